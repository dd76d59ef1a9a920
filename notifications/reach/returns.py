"""Letters the post brought back, from the print house's return file: one line per
returned envelope, named by the reference printed on the letter."""

import csv
import io
from collections.abc import Sequence
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.services import timeline_append

from .. import events
from ..models import Notification, ReturnedLetter, reference_normalize
from ..services.common import Actor, acting_user

LETTERS_RETURNED = events.LETTERS_RETURNED
REFERENCE_LENGTH = 16


def _header(fieldnames: Sequence[str] | None) -> list[str]:
    return [h.strip().lower().replace(" ", "_").replace("-", "_") for h in fieldnames or []]


@transaction.atomic
def returned_letters_import(*, csv_text: str, source: str, actor: Actor) -> int:
    """Record the returned letters of a return file (columns: reference, and optionally
    returned_on as YYYY-MM-DD and reason). Every bad line is named and then nothing is
    written; a letter already recorded as returned is left alone, so importing the same
    file twice changes nothing. Returns how many letters were newly recorded."""
    user = acting_user(actor)
    if user is None or not user.has_perm("notifications.import_returnedletter"):
        raise ValidationError(f"{actor} may not import returned letters.")
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    reader.fieldnames = _header(reader.fieldnames)
    if "reference" not in reader.fieldnames:
        raise ValidationError("The return file has no reference column (line 1).")
    errors: list[str] = []
    wanted: dict[str, tuple[int, date, str]] = {}
    today = timezone.now().date()
    for line, row in enumerate(reader, start=2):
        raw = (row.get("reference") or "").strip()
        reference = reference_normalize(raw)
        if len(reference) != REFERENCE_LENGTH:
            errors.append(f"line {line}: {raw!r} is not a letter reference")
            continue
        returned_raw = (row.get("returned_on") or "").strip()
        try:
            returned_on = date.fromisoformat(returned_raw) if returned_raw else today
        except ValueError:
            errors.append(f"line {line}: returned_on {returned_raw!r} is not a date (YYYY-MM-DD)")
            continue
        if returned_on > today:
            errors.append(f"line {line}: returned_on {returned_on} is in the future")
            continue
        wanted.setdefault(reference, (line, returned_on, (row.get("reason") or "").strip()[:200]))
    # One query for the whole file, whatever its length.
    found = {
        n.reference: n
        for n in Notification.objects.filter(reference__in=list(wanted)).select_related(
            "customer", "communication"
        )
    }
    for reference, (line, _on, _reason) in wanted.items():
        notification = found.get(reference)
        if notification is None:
            errors.append(f"line {line}: no letter has the reference {reference}")
        elif notification.letter_batch_id is None:
            errors.append(f"line {line}: {reference} was never put in a letter batch")
    if errors:
        raise ValidationError(sorted(errors, key=lambda e: int(e.split(":")[0].split()[1])))
    already = set(
        ReturnedLetter.objects.filter(notification__reference__in=list(found)).values_list(
            "notification__reference", flat=True
        )
    )
    new = [
        ReturnedLetter(
            notification=found[reference],
            customer=found[reference].customer,
            street=found[reference].customer.street,
            postal_code=found[reference].customer.postal_code,
            city=found[reference].customer.city,
            returned_on=returned_on,
            reason=reason,
            source=source[:255],
            recorded_by=user,
        )
        for reference, (_line, returned_on, reason) in wanted.items()
        if reference not in already
    ]
    ReturnedLetter.objects.bulk_create(new, batch_size=2_000)
    per_incident: dict[int, int] = {}
    for letter in new:
        incident_id = letter.notification.communication.incident_id
        per_incident[incident_id] = per_incident.get(incident_id, 0) + 1
    for incident_id, count in sorted(per_incident.items()):
        timeline_append(
            incident_id=incident_id,
            kind=LETTERS_RETURNED,
            actor=user,
            payload={"returned": count, "source": source},
        )
    return len(new)
