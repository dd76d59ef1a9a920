"""Letters for window envelopes, checked from the PDF's own text positions (pdfplumber)."""

import shutil
import subprocess
from pathlib import Path

import pdfplumber
import pytest
from django.conf import settings
from django.utils import timezone

from config.company import company_profile_update
from customers.models import Customer
from notifications.models import LetterBatch
from notifications.services.delivery import communication_send, delivery_send_batch
from notifications.services.letters import (
    letter_address_lines,
    letter_batch_build,
    letter_batch_create,
)

from .delivery_helpers import signed_off
from .factories import IncidentFactory, affected, approved

pytestmark = pytest.mark.django_db

MM = 72 / 25.4
INCH = 72.0
# (x0, top, x1, bottom) in PDF points, from the top-left corner of the sheet.
WINDOWS = {
    # DIN 5008 form B address field: 20 mm from the left, 45 mm from the top, 85 x 45 mm.
    "A4": (20 * MM, 45 * MM, 105 * MM, 90 * MM),
    # US #10 window, letter tri-folded: 7/8 in from the left, 2 in from the top, 4 x 1.125 in.
    "Letter": (0.875 * INCH, 2 * INCH, 4.875 * INCH, 3.125 * INCH),
}
SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"
LONG_STREET = "Appartement 42, Résidence des Grands Chênes du Parc Montsouris, Bâtiment C"


@pytest.fixture
def batch_of(marketing, cmo, ciso, smtp_server):
    company_profile_update(
        actor=None,
        values={
            "legal_name": "Nordwind Versand GmbH",
            "address_lines": "Hafenstraße 12",
            "postal_code": "39104",
            "city": "Magdeburg",
            "country": "DE",
            "registration": "Amtsgericht Stendal HRB 4711",
            "dpo_name": "Dr. Jana Weber",
            "dpo_email": "dpo@nordwind-versand.de",
        },
    )
    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"])
    people = {
        "domestic": affected(incident, "en", ["credentials"], country="DE"),
        "france": affected(incident, "en", ["credentials"], country="FR"),
        "us": affected(incident, "en", ["credentials"], country="US"),
    }
    addresses = {
        "domestic": {"street": "Breiter Weg 5", "postal_code": "39104", "city": "Magdeburg"},
        "france": {
            "street": f"{LONG_STREET}\nEscalier 3\nPorte gauche\n14 rue de la Tombe-Issoire",
            "postal_code": "75014",
            "city": "Paris",
        },
        "us": {"street": "1600 Amphitheatre Pkwy", "postal_code": "94043", "city": "Mountain View"},
    }
    for key, fields in addresses.items():
        Customer.objects.filter(pk=people[key].pk).update(
            email="", email_normalized="", email_status=Customer.EmailStatus.MISSING, **fields
        )
    Customer.objects.filter(pk=people["us"].pk).update(region="CA")
    communication = signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso)
    delivery = communication_send(communication_id=communication.pk, actor=cmo)
    while delivery_send_batch(delivery_id=delivery.pk).more:
        pass

    def build(paper_size: str) -> LetterBatch:
        batch = letter_batch_create(
            communication_id=communication.pk, paper_size=paper_size, actor=cmo
        )
        batch = letter_batch_build(batch_id=batch.pk)
        assert batch.status == LetterBatch.Status.READY, batch.error
        return batch

    return build, people


def _boxes_overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("paper_size", ["A4", "Letter"])
def test_the_recipient_block_sits_in_the_window_and_nothing_runs_off_the_page(
    batch_of, paper_size, tmp_path
):
    build, people = batch_of
    batch = build(paper_size)
    window = WINDOWS[paper_size]
    _screenshot(batch, paper_size)
    with batch.pdf.open("rb") as handle, pdfplumber.open(handle) as pdf:
        first_pages = []
        for page in pdf.pages:
            words = page.extract_words(keep_blank_chars=True, x_tolerance=1.5)
            # No text outside the sheet.
            for char in page.chars:
                assert char["x0"] >= 0 and char["x1"] <= page.width, char["text"]
                assert char["top"] >= 0 and char["bottom"] <= page.height, char["text"]
            # Every page has the footer (the company's address line) at its foot.
            footer = [w for w in words if "Hafenstraße 12" in w["text"]]
            assert footer and footer[-1]["top"] > page.height * 0.9, page.page_number
            if any(w["text"].startswith(("Reference:", "Aktenzeichen:")) for w in words):
                first_pages.append((page, words))
        assert len(first_pages) == 3
        seen_names = set()
        for page, _words in first_pages:
            # The left column only: the info block beside the window shares its baselines.
            text_lines = page.crop((0, 0, window[2] + 5 * MM, page.height)).extract_text_lines()
            head = " ".join(line["text"] for line in text_lines[:8])
            key = next(k for k, c in people.items() if f"{c.first_name} {c.last_name}" in head)
            seen_names.add(key)
            customer = Customer.objects.get(pk=people[key].pk)
            expected = letter_address_lines(
                customer=customer, home_country="DE", paper_size=paper_size
            )
            block = [line for line in text_lines if line["text"] in expected and line["top"] < 300]
            assert [line["text"] for line in block] == expected, (key, paper_size)
            box = (
                min(line["x0"] for line in block),
                min(line["top"] for line in block),
                max(line["x1"] for line in block),
                max(line["bottom"] for line in block),
            )
            # Inside the window rectangle.
            assert window[0] <= box[0] and box[2] <= window[2], (paper_size, box, window)
            assert window[1] <= box[1] and box[3] <= window[3], (paper_size, box, window)
            # Overlapping no other text of the page.
            block_chars = {_key(c) for line in block for c in line["chars"]}
            others = [c for c in page.chars if _key(c) not in block_chars and c["text"].strip()]
            assert not [c["text"] for c in others if _boxes_overlap(box, _box(c))], key
            if key == "france":
                assert expected[-1] == "FRANCE"
            if key == "us":
                assert expected[-1] == "UNITED STATES"
            if key == "domestic":
                assert expected[-1] == "39104 Magdeburg"
        assert seen_names == {"domestic", "france", "us"}


def _key(char):
    return (char["text"], round(char["x0"], 2), round(char["top"], 2))


def _box(item):
    return (item["x0"], item["top"], item["x1"], item["bottom"])


def _screenshot(batch: LetterBatch, paper_size: str) -> None:
    """The first letter's page, to be looked at (and shown in the README)."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with batch.pdf.open("rb") as handle:
        source = SCREENSHOTS / "letter.pdf"
        source.write_bytes(handle.read())
    subprocess.run(
        [
            pdftoppm,
            "-png",
            "-r",
            "70",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            source,
            SCREENSHOTS / f"letter-{paper_size.lower()}",
        ],
        check=True,
        timeout=60,
    )
    source.unlink()


def test_a_long_address_is_shortened_to_the_window_not_wrapped(db):
    customer = Customer(
        first_name="Marie-Thérèse",
        last_name="de la Tour d'Auvergne-Lauraguais",
        street=f"{LONG_STREET}\nEscalier 3\nPorte gauche\nCouloir B\n14 rue de la Tombe-Issoire",
        postal_code="75014",
        city="Paris",
        country="FR",
    )
    lines = letter_address_lines(customer=customer, home_country="DE", paper_size="A4")
    assert len(lines) <= 6
    assert all(len(line) <= 34 for line in lines)
    assert lines[-1] == "FRANCE" and lines[-2] == "75014 Paris"
    assert timezone.now()
