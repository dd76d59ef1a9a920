"""Letters for people email cannot reach: a print-ready PDF and a manifest."""

import csv
import io

import pytest
from pypdf import PdfReader
from weasyprint.urls import URLFetchingError

from customers.models import Customer, Touchpoint
from incidents.evidence.render import StaticOnlyFetcher
from incidents.models import TimelineEvent
from notifications.models import LetterBatch, Notification
from notifications.services.delivery import communication_send, delivery_send_batch
from notifications.services.letters import (
    LetterError,
    letter_batch_build,
    letter_batch_create,
    letter_batch_mark_posted,
)

from .delivery_helpers import signed_off
from .factories import IncidentFactory, affected, approved

pytestmark = pytest.mark.django_db


@pytest.fixture
def mixed(marketing, cmo, ciso):
    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"])
    reachable = [affected(incident, "en", ["credentials"]) for _ in range(3)]
    no_email = affected(incident, "en", ["credentials"])
    bad = affected(incident, "en", ["credentials"])
    bounced = affected(incident, "en", ["credentials"])
    Customer.objects.filter(pk=no_email.pk).update(
        email="", email_normalized="", email_status=Customer.EmailStatus.MISSING
    )
    Customer.objects.filter(pk=bad.pk).update(email_status=Customer.EmailStatus.UNDELIVERABLE)
    Customer.objects.filter(pk=bounced.pk).update(email_status=Customer.EmailStatus.BOUNCED)
    for person, street in (
        (no_email, "1 Letter Lane"),
        (bad, "2 Post Road"),
        (bounced, "3 Mail St"),
    ):
        Customer.objects.filter(pk=person.pk).update(
            street=street, postal_code="10115", city="Berlin"
        )
    communication = signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso)
    return incident, communication, reachable, [no_email, bad, bounced]


def pdf_text(batch):
    with batch.pdf.open("rb") as handle:
        return "\n".join(page.extract_text() for page in PdfReader(handle).pages)


@pytest.mark.parametrize("paper_size", ["A4", "Letter"])
def test_people_without_a_usable_email_are_in_the_letter_batch_and_nowhere_else(
    smtp_server, mixed, cmo, marketing, paper_size, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    _incident, communication, reachable, unreachable = mixed
    delivery = communication_send(communication_id=communication.pk, actor=cmo)
    while delivery_send_batch(delivery_id=delivery.pk).more:
        pass
    assert sorted(smtp_server.recipients()) == sorted(c.email for c in reachable)
    batch = letter_batch_create(
        communication_id=communication.pk, paper_size=paper_size, actor=marketing
    )
    batch = letter_batch_build(batch_id=batch.pk)
    assert batch.status == LetterBatch.Status.READY
    assert batch.built == batch.letters == 3
    with batch.manifest.open("rb") as handle:
        manifest = list(csv.DictReader(io.StringIO(handle.read().decode())))
    assert sorted(int(row["customer"]) for row in manifest) == sorted(c.pk for c in unreachable)
    assert [int(row["first_page"]) for row in manifest] == [1, 2, 3]
    text = pdf_text(batch)
    for person in unreachable:
        assert person.first_name in text
    for person in reachable:
        assert person.first_name not in text
    with batch.pdf.open("rb") as handle:
        box = PdfReader(handle).pages[0].mediabox
    expected = (595, 842) if paper_size == "A4" else (612, 792)
    assert (round(float(box.width)), round(float(box.height))) == expected
    assert TimelineEvent.objects.filter(kind="delivery.letters_built").count() == 1


def test_a_letter_is_due_only_once_and_posting_records_touchpoints(
    mixed, cmo, marketing, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    _incident, communication, _, unreachable = mixed
    communication_send(communication_id=communication.pk, actor=cmo)
    batch = letter_batch_create(communication_id=communication.pk, paper_size="A4", actor=marketing)
    with pytest.raises(LetterError, match=r"Nobody .* is waiting for a letter"):
        letter_batch_create(communication_id=communication.pk, paper_size="A4", actor=marketing)
    with pytest.raises(LetterError, match="not ready to post"):
        letter_batch_mark_posted(batch_id=batch.pk, actor=marketing)
    letter_batch_build(batch_id=batch.pk)
    letter_batch_mark_posted(batch_id=batch.pk, actor=marketing)
    assert set(
        Touchpoint.objects.filter(channel="letter", kind="breach_notice").values_list(
            "customer_id", flat=True
        )
    ) == {c.pk for c in unreachable}
    assert TimelineEvent.objects.filter(kind="delivery.letters_posted").count() == 1
    with pytest.raises(LetterError, match="not ready to post"):
        letter_batch_mark_posted(batch_id=batch.pk, actor=marketing)


def test_letters_need_the_permission_and_a_sent_communication(mixed, cmo, legal, marketing):
    _, communication, _, _ = mixed
    with pytest.raises(LetterError, match="has not been sent"):
        letter_batch_create(communication_id=communication.pk, paper_size="A4", actor=marketing)
    communication_send(communication_id=communication.pk, actor=cmo)
    with pytest.raises(LetterError, match="may not build"):
        letter_batch_create(communication_id=communication.pk, paper_size="A4", actor=legal)
    assert not Notification.objects.filter(letter_batch__isnull=False).exists()


def test_the_pdf_fetcher_serves_only_static_files_and_data_uris():
    fetcher = StaticOnlyFetcher()
    assert fetcher.fetch("data:text/plain,hello").read() == b"hello"
    for url in ("https://example.com/logo.png", "file:///etc/passwd"):
        with pytest.raises(URLFetchingError):
            fetcher.fetch(url)


def test_the_manifest_writes_a_formula_typed_into_the_crm_as_text(
    smtp_server, mixed, cmo, marketing, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    _incident, communication, _reachable, unreachable = mixed
    Customer.objects.filter(pk=unreachable[0].pk).update(
        first_name='=HYPERLINK("http://evil.example","x")', street="@SUM(1+1)", city="-2+3"
    )
    delivery = communication_send(communication_id=communication.pk, actor=cmo)
    while delivery_send_batch(delivery_id=delivery.pk).more:
        pass
    batch = letter_batch_create(communication_id=communication.pk, paper_size="A4", actor=marketing)
    batch = letter_batch_build(batch_id=batch.pk)

    with batch.manifest.open("rb") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read().decode())))
    row = next(r for r in rows if int(r["customer"]) == unreachable[0].pk)
    assert row["name"].startswith("'=HYPERLINK")
    assert row["street"] == "'@SUM(1+1)" and row["city"] == "'-2+3"
