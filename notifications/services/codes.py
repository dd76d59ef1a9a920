"""Remediation codes (credit monitoring and the like): imported per incident from a vendor's
CSV, handed out one per person, atomically and never twice."""

import csv
import io
from datetime import date

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from incidents.models import Incident
from incidents.services import timeline_append

from ..models import Communication, Notification, RemediationCode
from .common import Actor, acting_user

CODE_COLUMNS = ("code", "vendor", "expiry")


@transaction.atomic
def codes_import(*, incident_id: int, actor: Actor, csv_text: str) -> int:
    """Add the codes of a CSV (columns code, vendor, expiry as YYYY-MM-DD, optional link:
    where to redeem it) to the incident's pool. Any bad row refuses the whole file, naming
    its line; codes already known are skipped. Returns how many were added."""
    user = acting_user(actor)
    if user is None or not user.has_perm("notifications.add_remediationcode"):
        raise ValidationError(f"{actor} may not import remediation codes.")
    incident = Incident.objects.get(pk=incident_id)
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in CODE_COLUMNS if c not in header]
    if missing:
        raise ValidationError(f"The file has no column {', '.join(missing)} (line 1).")
    reader.fieldnames = header
    today = timezone.now().date()
    errors: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    rows: list[RemediationCode] = []
    for line, raw in enumerate(reader, start=2):
        code = (raw.get("code") or "").strip()
        vendor = (raw.get("vendor") or "").strip()
        expiry_text = (raw.get("expiry") or "").strip()
        redeem_url = (raw.get("link") or "").strip()
        if not code or not vendor:
            errors.append(f"line {line}: code and vendor are required")
            continue
        try:
            expires_on = date.fromisoformat(expiry_text)
        except ValueError:
            errors.append(f"line {line}: expiry {expiry_text!r} is not a date (YYYY-MM-DD)")
            continue
        if expires_on < today:
            errors.append(f"line {line}: code expired on {expires_on}")
            continue
        if redeem_url and not redeem_url.startswith("https://"):
            errors.append(f"line {line}: link {redeem_url!r} is not an https:// address")
            continue
        if (vendor, code) in seen:
            errors.append(f"line {line}: code repeats line {seen[(vendor, code)]}")
            continue
        seen[(vendor, code)] = line
        rows.append(
            RemediationCode(
                incident=incident,
                code=code,
                vendor=vendor,
                expires_on=expires_on,
                redeem_url=redeem_url,
            )
        )
    if errors:
        raise ValidationError(errors)
    before = RemediationCode.objects.filter(incident=incident).count()
    RemediationCode.objects.bulk_create(rows, batch_size=5000, ignore_conflicts=True)
    added = RemediationCode.objects.filter(incident=incident).count() - before
    timeline_append(
        incident_id=incident_id,
        kind="delivery.codes_imported",
        actor=user,
        payload={"added": added, "in_file": len(rows)},
    )
    return added


def codes_free(*, incident_id: int) -> int:
    return RemediationCode.objects.filter(
        incident_id=incident_id,
        notification__isnull=True,
        expires_on__gte=timezone.now().date(),
    ).count()


def codes_shortfall(*, communication: Communication, audience_size: int) -> int:
    """How many codes the pool lacks to give everyone in the audience one."""
    holding = RemediationCode.objects.filter(
        notification__communication_id=communication.pk
    ).count()
    needed = audience_size - holding
    return max(0, needed - codes_free(incident_id=communication.incident_id))


def codes_assign(*, communication: Communication) -> int:
    """Give each of the communication's people without a code one free code, in one UPDATE.

    The incident row lock keeps two communications of one incident from drawing the same
    codes at once; the one-to-one column would refuse it anyway.
    """
    list(Incident.objects.select_for_update().filter(pk=communication.incident_id))
    code_table = RemediationCode._meta.db_table
    notification_table = Notification._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {code_table} SET notification_id = pairs.notification_id, "  # noqa: S608
            "assigned_at = %s FROM ("
            "SELECT n.id AS notification_id, f.id AS code_id FROM "
            "(SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS rn "
            f"FROM {notification_table} nn WHERE communication_id = %s AND NOT EXISTS "
            f"(SELECT 1 FROM {code_table} held WHERE held.notification_id = nn.id)) n "
            "JOIN (SELECT id, ROW_NUMBER() OVER (ORDER BY expires_on, id) AS rn "
            f"FROM {code_table} WHERE incident_id = %s AND notification_id IS NULL "
            "AND expires_on >= %s) f ON f.rn = n.rn) pairs "
            f"WHERE {code_table}.id = pairs.code_id",
            [
                timezone.now(),
                communication.pk,
                communication.incident_id,
                timezone.now().date(),
            ],
        )
        return cursor.rowcount
