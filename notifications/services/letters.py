"""Postal letters for people email cannot reach: no address, a malformed one, a bounce or a
permanent failure. A batch is one print-ready PDF and a CSV manifest for the print house,
built in the background; posting it is recorded by hand."""

import base64
import io
import mimetypes
from dataclasses import dataclass, field
from typing import Any

import pycountry
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import HTML

from config.csv_safe import csv_writer
from config.models import CompanyProfile, company_profile
from config.services import ServiceError, enqueue_on_commit
from customers.models import Customer, Touchpoint
from incidents.evidence.render import BASE_URL, StaticOnlyFetcher
from incidents.services import timeline_append

from ..models import (
    Channel,
    Communication,
    Delivery,
    LetterBatch,
    Notification,
)
from ..rendering import CodeInfo, RenderError, frame_labels, message_render
from ..selectors import message_context, version_choose
from .common import Actor, acting_user
from .delivery import reset_link
from .delivery.messages import batch_inputs

# Typesetting many pages at once costs memory out of proportion; pages are laid out in
# chunks and joined, and progress is saved after each chunk.
CHUNK = 50
LETTER_STATUSES = (
    Notification.Status.LETTER,
    Notification.Status.BOUNCED,
    Notification.Status.FAILED,
)


class LetterError(ServiceError):
    """A letter batch action was refused; the message says which and why."""


def letters_due(*, communication_id: int) -> "QuerySet[Notification]":
    """Everyone of this communication whom email did not or cannot reach, not yet batched."""
    # A record merged into another is not a second person to write to.
    return Notification.objects.filter(
        communication_id=communication_id,
        status__in=LETTER_STATUSES,
        letter_batch__isnull=True,
        customer__merged_into__isnull=True,
    )


@transaction.atomic
def letter_batch_create(*, communication_id: int, paper_size: str, actor: Actor) -> LetterBatch:
    """Put every letter now due into a new batch and build it in the background."""
    user = acting_user(actor)
    if user is None or not user.has_perm("notifications.add_letterbatch"):
        raise LetterError(f"{actor} may not build letter batches.")
    if paper_size not in LetterBatch.PaperSize.values:
        raise ValidationError({"paper_size": f"{paper_size!r} is not A4 or Letter"})
    communication = (
        Communication.objects.select_for_update()
        .select_related("incident")
        .get(pk=communication_id)
    )
    if communication.incident.is_drill:
        raise LetterError(
            f"'{communication}' belongs to a drill: its letters are never printed or posted."
        )
    if not Delivery.objects.filter(communication=communication).exists():
        raise LetterError(f"'{communication}' has not been sent; there are no letters yet.")
    batch = LetterBatch.objects.create(
        communication=communication, paper_size=paper_size, created_by=user
    )
    # One UPDATE claims the due letters: a second batch built at once finds none of them.
    letters = letters_due(communication_id=communication_id).update(letter_batch=batch)
    if not letters:
        raise LetterError(f"Nobody of '{communication}' is waiting for a letter.")
    LetterBatch.objects.filter(pk=batch.pk).update(letters=letters)
    batch.letters = letters
    enqueue_on_commit("notifications.tasks.letter_batch_build_task", batch.pk)
    return batch


@dataclass
class Letter:
    notification: Notification
    customer: Customer
    subject: str
    body: str
    language: str = "en"
    reference: str = ""
    address_lines: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    code: CodeInfo | None = None
    code_text: str = ""
    genuine_text: str = ""
    complaint_text: str = ""


# What fits the window: DIN 5008 form B has six lines for the recipient (the US #10 window
# about five); a line longer than the window is cut, never wrapped over the next one.
ADDRESS_LINES_MAX = {"A4": 6, "Letter": 5}
ADDRESS_LINE_CHARS = 34


def _shorten(line: str, limit: int = ADDRESS_LINE_CHARS) -> str:
    line = " ".join(line.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def country_for_post(code: str) -> str:
    """The destination country as the post reads it: in English, in capitals."""
    country = pycountry.countries.get(alpha_2=code.upper()) if code else None
    name = getattr(country, "common_name", None) or getattr(country, "name", code)
    return str(name).upper()


def letter_address_lines(*, customer: Customer, home_country: str, paper_size: str) -> list[str]:
    """The recipient block: name, street lines, the town line as the country writes it,
    and the country (omitted for domestic mail); shortened to fit the window."""
    name = f"{customer.first_name} {customer.last_name}".strip()
    street = [line for line in customer.street.splitlines() if line.strip()]
    country = customer.country.upper()
    if country == "US":
        town = [" ".join(p for p in (customer.city, customer.region, customer.postal_code) if p)]
    elif country in ("GB", "IE"):
        town = [p for p in (customer.city.upper(), customer.postal_code) if p]
    else:
        town = [" ".join(p for p in (customer.postal_code, customer.city) if p)]
    tail = [*town]
    if country and country != home_country.upper():
        tail.append(country_for_post(country))
    room = ADDRESS_LINES_MAX.get(paper_size, 6) - len(tail) - 1
    if len(street) > room:
        # Join the extra street lines rather than drop what the postman needs.
        street = [*street[: room - 1], ", ".join(street[room - 1 :])] if room > 0 else []
    return [_shorten(line) for line in [name, *street, *tail] if line.strip()]


def _letters(batch: LetterBatch, notifications: list[Notification]) -> list[Letter]:
    communication = batch.communication
    inputs = batch_inputs(communication, notifications)
    customers, categories, codes = inputs.customers, inputs.categories, inputs.codes
    versions, redemptions, profile = inputs.versions, inputs.redemptions, inputs.profile
    authorities, reference = inputs.authorities, inputs.reference
    letters = []
    for notification in notifications:
        customer = customers[notification.customer_id]
        person_categories = categories.get(customer.pk, [])
        # The letter version when the communication has one, else the email's words.
        version, _fallback = version_choose(
            versions,
            channel=Channel.LETTER,
            language=profile.language_for(language=customer.language, country=customer.country),
            data_categories=person_categories,
            fallback_language=communication.fallback_language,
        )
        if version is None:
            raise LetterError(f"No approved version fits customer {customer.pk}.")
        code = codes.get(notification.pk)
        try:
            rendered = message_render(
                subject=version.subject,
                text_body=version.text_body,
                html_body=version.html_body,
                context=message_context(
                    incident=communication.incident,
                    customer=customer,
                    data_categories=person_categories,
                    reset_link=reset_link(customer.pk),
                    remediation_code=code.code if code else "",
                    redemption_link=redemptions.get(notification.pk, ""),
                    language=version.language,
                ),
            )
        except RenderError as error:
            raise LetterError(f"Customer {customer.pk}: {error}") from error
        labels = frame_labels(version.language)
        letters.append(
            Letter(
                notification=notification,
                customer=customer,
                subject=rendered.subject,
                body=rendered.text.strip(),
                language=version.language,
                reference=reference,
                address_lines=letter_address_lines(
                    customer=customer, home_country=profile.country, paper_size=batch.paper_size
                ),
                labels=labels,
                code=code,
                code_text=(
                    labels["code_text"].format(
                        vendor=code.vendor, code=code.code, expires=code.expires_on.isoformat()
                    )
                    if code
                    else ""
                ),
                genuine_text=labels["genuine_text"].format(
                    url=profile.genuine_check_url, reference=reference
                ),
                complaint_text=labels["complaint_text"].format(
                    authority=authorities.get(customer.country.upper(), "")
                    or labels["complaint_default"]
                ),
            )
        )
    return letters


def _logo_data_uri(profile: CompanyProfile) -> str:
    """The logo inlined: the PDF fetcher serves no uploaded files."""
    if not profile.logo:
        return ""
    try:
        with profile.logo.open("rb") as handle:
            data = handle.read()
    except OSError:
        return ""
    content_type = mimetypes.guess_type(profile.logo.name)[0] or "image/png"
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


def letters_pdf_render(*, batch: LetterBatch, letters: list[Letter]) -> Any:
    """Lay out letters as one WeasyPrint document (not yet written)."""
    profile = company_profile()
    html = render_to_string(
        "notifications/letters/batch.html",
        {
            "batch": batch,
            "letters": letters,
            "company": profile,
            "logo": _logo_data_uri(profile),
            # DIN 5008: the sender on one line above the recipient, read through the window.
            "return_line": _shorten(" · ".join([profile.legal_name, *profile.address_block]), 70),
            "lang": letters[0].language if letters else "en",
            "date": timezone.localdate(),
        },
    )
    return HTML(string=html, base_url=BASE_URL, url_fetcher=StaticOnlyFetcher()).render()


def letter_batch_build(*, batch_id: int) -> LetterBatch:
    """Typeset the batch chunk by chunk, saving progress, then store the PDF and manifest.

    Safe to run twice: a batch no longer building is left as it is.
    """
    batch = LetterBatch.objects.select_related("communication__incident").get(pk=batch_id)
    if batch.status != LetterBatch.Status.BUILDING:
        return batch
    notifications = list(
        Notification.objects.filter(letter_batch=batch).order_by("customer__country", "id")
    )
    documents = []
    manifest = io.StringIO()
    writer = csv_writer(manifest)
    writer.writerow(
        [
            "sequence",
            "first_page",
            "pages",
            "notification",
            "customer",
            "name",
            "street",
            "postal_code",
            "city",
            "region",
            "country",
        ]
    )
    page = 1
    sequence = 0
    try:
        for start in range(0, len(notifications), CHUNK):
            letters = _letters(batch, notifications[start : start + CHUNK])
            document = letters_pdf_render(batch=batch, letters=letters)
            # Each letter starts on a new page; count each one's pages for the manifest.
            starts = [
                i
                for i, p in enumerate(document.pages)
                if p.anchors and any(a.startswith("letter-") for a in p.anchors)
            ] + [len(document.pages)]
            for index, letter in enumerate(letters):
                sequence += 1
                pages = starts[index + 1] - starts[index]
                customer = letter.customer
                writer.writerow(
                    [
                        sequence,
                        page,
                        pages,
                        letter.notification.pk,
                        customer.pk,
                        f"{customer.first_name} {customer.last_name}".strip(),
                        customer.street,
                        customer.postal_code,
                        customer.city,
                        customer.region,
                        customer.country,
                    ]
                )
                page += pages
            documents.append(document)
            LetterBatch.objects.filter(pk=batch.pk).update(built=sequence)
    except LetterError as error:
        LetterBatch.objects.filter(pk=batch.pk, status=LetterBatch.Status.BUILDING).update(
            status=LetterBatch.Status.FAILED, error=str(error)
        )
        batch.refresh_from_db()
        return batch
    pages_all = [p for d in documents for p in d.pages]
    pdf = documents[0].copy(pages_all).write_pdf() if documents else b""
    with transaction.atomic():
        batch = LetterBatch.objects.select_for_update().get(pk=batch_id)
        if batch.status != LetterBatch.Status.BUILDING:
            return batch
        batch.pdf.save(f"letters-{batch.pk}.pdf", ContentFile(pdf), save=False)
        batch.manifest.save(
            f"letters-{batch.pk}.csv", ContentFile(manifest.getvalue().encode()), save=False
        )
        batch.status = LetterBatch.Status.READY
        batch.built = sequence
        batch.built_at = timezone.now()
        batch.save(update_fields=["pdf", "manifest", "status", "built", "built_at"])
        timeline_append(
            incident_id=batch.communication.incident_id,
            kind="delivery.letters_built",
            actor=None,
            payload={
                "communication": batch.communication_id,
                "batch": batch.pk,
                "letters": sequence,
                "pages": page - 1,
                "paper_size": batch.paper_size,
            },
        )
    return batch


@transaction.atomic
def letter_batch_mark_posted(*, batch_id: int, actor: Actor) -> LetterBatch:
    """Ready -> posted; each letter becomes a touchpoint on its person's journey."""
    user = acting_user(actor)
    if user is None or not user.has_perm("notifications.post_letterbatch"):
        raise LetterError(f"{actor} may not record letter batches as posted.")
    batch = LetterBatch.objects.select_related("communication").get(pk=batch_id)
    now = timezone.now()
    posted = LetterBatch.objects.filter(pk=batch_id, status=LetterBatch.Status.READY).update(
        status=LetterBatch.Status.POSTED, posted_at=now, posted_by=user
    )
    if not posted:
        raise LetterError(f"{batch} is {batch.get_status_display().lower()}, not ready to post.")
    kind = (
        Delivery.objects.filter(communication_id=batch.communication_id)
        .values_list("kind", flat=True)
        .first()
        or Delivery.Kind.BREACH_NOTICE
    )
    customer_ids = Notification.objects.filter(letter_batch_id=batch_id).values_list(
        "customer_id", flat=True
    )
    Touchpoint.objects.bulk_create(
        [
            Touchpoint(
                customer_id=customer_id,
                channel=Touchpoint.Channel.LETTER,
                kind=kind,
                occurred_at=now,
                reference=f"communication:{batch.communication_id}",
                created_by=user,
            )
            for customer_id in customer_ids.iterator()
        ],
        batch_size=5000,
    )
    timeline_append(
        incident_id=batch.communication.incident_id,
        kind="delivery.letters_posted",
        actor=user,
        payload={
            "communication": batch.communication_id,
            "batch": batch_id,
            "letters": batch.letters,
        },
    )
    batch.refresh_from_db()
    return batch
