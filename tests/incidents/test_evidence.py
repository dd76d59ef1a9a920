"""The evidence pack, read back from the PDF as a regulator would read it."""

import csv
import hashlib
import io
import json
from typing import Any

import pdfplumber
import pytest
from django.db import connection
from pypdf import PdfReader

from incidents.evidence.services import customer_pseudonym, evidence_pack_render, pseudonym_key
from incidents.models import TimelineEvent
from incidents.selectors import timeline_verify

from .evidence_scenario import full_incident

pytestmark = pytest.mark.django_db

SECTIONS = [
    "Summary",
    "The Art. 33(3) record",
    "Severity assessment",
    "Art. 33 and Art. 34 decisions",
    "Obligations and deadlines",
    "Scope",
    "Campaign holds",
    "Message templates and legal approvals",
    "Sign-offs",
    "The words sent",
    "Delivery statistics",
    "Filings with authorities",
    "Timeline",
]


def read(pdf: bytes) -> tuple[PdfReader, list[str]]:
    reader = PdfReader(io.BytesIO(pdf))
    return reader, [page.extract_text() for page in reader.pages]


def squashed(text: str) -> str:
    return "".join(text.split())


def test_pack_holds_every_section_head_hash_and_annexes(make_user):
    scenario = full_incident(make_user)
    incident = scenario.incident
    rendered = evidence_pack_render(incident_id=incident.pk)
    reader, pages = read(rendered.pdf)
    text = "\n".join(pages)

    for title in SECTIONS:
        assert title in text, title
    head = timeline_verify(incident_id=incident.pk).head_hash
    assert rendered.check.ok and rendered.check.head_hash == head
    assert all(f"Timelineheadhash{head}" in squashed(page) for page in pages)
    # What the sections say, from the record and the other apps.
    assert "SE = DPC x EI + CB" in text
    assert "BFDI-2026-0042" in text and scenario.filing.file_sha256 in squashed(text)
    assert "Winter sale" in text and "paused" in text
    assert "TX" in text and "CA" in text
    assert "CISO" in text and "CMO" in text
    for event in TimelineEvent.objects.filter(incident=incident):
        assert event.hash in squashed(text)

    files = {name: content[0] for name, content in reader.attachments.items()}
    # The annexes, and each notice as filed, byte for byte.
    notice_files = {n for n in files if n.startswith("notice-")}
    assert set(files) - notice_files == {"timeline.json", "affected-customers.csv"}
    assert [hashlib.sha256(files[n]).hexdigest() for n in notice_files] == [
        scenario.filing.file_sha256
    ]
    timeline = json.loads(files["timeline.json"])
    assert timeline["chain_verified"] is True and timeline["head_hash"] == head
    assert [e["seq"] for e in timeline["events"]] == list(
        TimelineEvent.objects.filter(incident=incident).values_list("seq", flat=True)
    )
    rows = list(csv.DictReader(io.StringIO(files["affected-customers.csv"].decode())))
    key = pseudonym_key()
    expected = {
        customer_pseudonym(key=key, incident_id=incident.pk, customer_id=c.pk): c
        for c in scenario.customers
    }
    assert {r["pseudonymous_id"] for r in rows} == set(expected)
    statuses = sorted(r["notice_status"] for r in rows)
    assert statuses == sorted(["sent", "sent", "failed", "bounced", "letter", "not notified"])
    assert all(r["data_categories"] == "contact;credentials" for r in rows)
    raw = files["affected-customers.csv"].decode()
    assert "Secretname" not in raw and "@example.com" not in raw

    root: Any = reader.trailer["/Root"]
    metadata = root["/Metadata"].get_object().get_data()
    assert b"pdfaid:part" in metadata and b"3" in metadata.split(b"pdfaid:part")[1][:10]


def test_tampered_timeline_row_is_named_on_page_one(make_user):
    incident = full_incident(make_user).incident
    victim = TimelineEvent.objects.get(incident=incident, seq=3)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "UPDATE incidents_timelineevent SET kind = %s WHERE id = %s",
            ["incident.nothing_to_see", victim.pk],
        )
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")

    rendered = evidence_pack_render(incident_id=incident.pk)
    _, pages = read(rendered.pdf)
    first = " ".join(pages[0].split())
    assert "DOES NOT VERIFY" in first
    assert "The first broken sequence number is 3" in first
    assert rendered.check.first_broken_seq == 3


def test_pack_shows_the_words_sent_for_a_sample_person_on_pages_that_hold_them(make_user):
    scenario = full_incident(make_user)
    incident = scenario.incident
    rendered = evidence_pack_render(incident_id=incident.pk)
    reader, pages = read(rendered.pdf)
    flat = " ".join(" ".join(pages).split())

    # The approved words as the email and the letter carry them, for a made-up person.
    start = flat.index("The words sent", flat.index("Chronology"))
    words = flat[start:]
    assert "Email: " in words and "Letter: " in words
    assert words.count("Dear Alex Sample,") >= 2
    assert "We are writing about a breach of your data. Automated logins reached" in words
    assert f"Reference: {incident.reference}" in words
    assert "Your right to complain" in words
    for customer in scenario.customers:
        assert customer.first_name not in flat and customer.email not in flat

    # The summary is one page of its own: its last facts share the page with its title.
    summary = next(i for i, p in enumerate(pages) if p.lstrip().startswith("Summary"))
    assert "Pack built at" in pages[summary]
    assert "affected-customers.csv" in squashed(pages[summary])
    assert "BFDI-2026-0042" in pages[summary]
    assert pages[summary + 1].lstrip().startswith("Chronology")

    # Every page carries the footer, and no text runs off any page.
    head = rendered.check.head_hash
    for number, page_text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page_text
        assert f"Timelineheadhash{head}" in squashed(page_text)
    with pdfplumber.open(io.BytesIO(rendered.pdf)) as pdf:
        for page in pdf.pages:
            for char in page.chars:
                assert char["x0"] >= 0 and char["x1"] <= page.width, char["text"]
                assert char["top"] >= 0 and char["bottom"] <= page.height, char["text"]

    root: Any = reader.trailer["/Root"]
    metadata = root["/Metadata"].get_object().get_data()
    assert b"pdfaid:part" in metadata and b"3" in metadata.split(b"pdfaid:part")[1][:10]
