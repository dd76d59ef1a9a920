"""Postal letters for people email cannot reach: no address, a malformed one, a bounce or a
permanent failure. A batch is one print-ready PDF and a CSV manifest for the print house,
built in the background; posting it is recorded by hand."""

import io
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import HTML

from config.csv_safe import csv_writer
from customers.models import Customer, Touchpoint
from incidents.evidence.render import BASE_URL, StaticOnlyFetcher
from incidents.models import AffectedCustomer
from incidents.services import timeline_append

from ..models import (
    Channel,
    Communication,
    Delivery,
    LetterBatch,
    Notification,
    RemediationCode,
    TemplateVersion,
)
from ..rendering import RenderError, message_render
from ..selectors import language_primary, message_context, version_choose
from .common import Actor, acting_user
from .delivery import reset_link

# Typesetting many pages at once costs memory out of proportion; pages are laid out in
# chunks and joined, and progress is saved after each chunk.
CHUNK = 50
LETTER_STATUSES = (
    Notification.Status.LETTER,
    Notification.Status.BOUNCED,
    Notification.Status.FAILED,
)


class LetterError(Exception):
    """A letter batch action was refused; the message says which and why."""


def letters_due(*, communication_id: int) -> "QuerySet[Notification]":
    """Everyone of this communication whom email did not or cannot reach, not yet batched."""
    return Notification.objects.filter(
        communication_id=communication_id,
        status__in=LETTER_STATUSES,
        letter_batch__isnull=True,
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

    def enqueue() -> None:
        from django_q.tasks import async_task

        async_task("notifications.tasks.letter_batch_build_task", batch.pk)

    transaction.on_commit(enqueue)
    return batch


@dataclass
class Letter:
    notification: Notification
    customer: Customer
    subject: str
    body: str


def _letters(batch: LetterBatch, notifications: list[Notification]) -> list[Letter]:
    communication = batch.communication
    customer_ids = [n.customer_id for n in notifications]
    customers = Customer.objects.in_bulk(customer_ids)
    categories = dict(
        AffectedCustomer.objects.filter(
            incident_id=communication.incident_id, customer_id__in=customer_ids
        ).values_list("customer_id", "data_categories")
    )
    codes = dict(
        RemediationCode.objects.filter(
            notification_id__in=[n.pk for n in notifications]
        ).values_list("notification_id", "code")
    )
    versions: list[TemplateVersion] = list(communication.versions.all())
    letters = []
    for notification in notifications:
        customer = customers[notification.customer_id]
        person_categories = categories.get(customer.pk, [])
        # The letter version when the communication has one, else the email's words.
        for channel in (Channel.LETTER, Channel.EMAIL):
            version, _fallback = version_choose(
                versions,
                channel=channel,
                language=language_primary(customer.language),
                data_categories=person_categories,
                fallback_language=communication.fallback_language,
            )
            if version is not None:
                break
        if version is None:
            raise LetterError(f"No approved version fits customer {customer.pk}.")
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
                    remediation_code=codes.get(notification.pk, ""),
                ),
            )
        except RenderError as error:
            raise LetterError(f"Customer {customer.pk}: {error}") from error
        letters.append(Letter(notification, customer, rendered.subject, rendered.text))
    return letters


def letters_pdf_render(*, batch: LetterBatch, letters: list[Letter]) -> Any:
    """Lay out letters as one WeasyPrint document (not yet written)."""
    html = render_to_string(
        "notifications/letters/batch.html",
        {
            "batch": batch,
            "letters": letters,
            "sender": settings.DEFAULT_FROM_EMAIL,
            "date": timezone.now().date(),
        },
    )
    return HTML(string=html, base_url=BASE_URL, url_fetcher=StaticOnlyFetcher()).render()


def _address_lines(customer: Customer) -> list[str]:
    name = f"{customer.first_name} {customer.last_name}".strip()
    city = " ".join(p for p in (customer.postal_code, customer.city) if p)
    return [
        line for line in (name, customer.street, city, customer.region, customer.country) if line
    ]


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
            for letter in letters:
                letter.customer.address_lines = _address_lines(letter.customer)  # type: ignore[attr-defined]
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
