"""The evidence pack reads as a report, fits its pages, and is signed (PAdES) when a key
is configured: a changed byte then fails pyHanko's validator."""

import datetime
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pdfplumber
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.conf import settings
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from config.company import company_profile_update
from incidents.evidence.services import evidence_pack_render

from .evidence_scenario import full_incident

pytestmark = pytest.mark.django_db
SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"


@pytest.fixture
def signing_key(tmp_path, settings):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Nordwind Versand GmbH"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Nordwind Evidence Signing"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "evidence.p12"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"evidence",
            key,
            certificate,
            None,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    settings.EVIDENCE_SIGNING_P12 = str(path)
    settings.EVIDENCE_SIGNING_P12_PASSWORD = "secret"
    return certificate


def _status(pdf: bytes, certificate: Any) -> Any:
    from asn1crypto import x509 as asn1_x509

    root = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    [signature] = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    return validate_pdf_signature(signature, ValidationContext(trust_roots=[root]))


def test_a_signed_pack_validates_and_a_changed_byte_fails_the_check(make_user, signing_key):
    scenario = full_incident(make_user)
    pdf = evidence_pack_render(incident_id=scenario.incident.pk).pdf
    status = _status(pdf, signing_key)
    assert status.intact and status.valid and status.bottom_line
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        assert "This file is signed (PAdES)" in document.pages[0].extract_text()
    at = pdf.index(b"WeasyPrint")
    tampered = pdf[:at] + b"W" + pdf[at + 1 :].replace(b"easyPrint", b"easyPrinT", 1)
    assert len(tampered) == len(pdf) and tampered != pdf
    changed = _status(tampered, signing_key)
    assert not (changed.intact and changed.valid)


def test_the_pack_reads_as_a_report_and_keeps_to_its_pages(make_user, settings):
    settings.EVIDENCE_SIGNING_P12 = ""
    company_profile_update(actor=None, values={"legal_name": "Nordwind Versand GmbH"})
    scenario = full_incident(make_user)
    pdf = evidence_pack_render(incident_id=scenario.incident.pk).pdf
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        first = document.pages[0].extract_text()
        assert "Nordwind Versand GmbH" in first and scenario.incident.reference in first
        assert "This file is NOT signed" in first
        contents = document.pages[1].extract_text()
        for heading in ("Contents", "Summary", "Chronology", "Notices as filed"):
            assert heading in contents
        text = "\n".join(page.extract_text() for page in document.pages)
        assert "opened the incident." in text  # the chronology is told in sentences
        for page in document.pages:
            # Every page has its running header and footer, and no text leaves the page.
            page_text = page.extract_text()
            assert f"of {len(document.pages)}" in page_text, page.page_number
            last = scenario.incident.timeline.order_by("-seq").first()
            assert last is not None
            head = last.hash
            assert f"Timelineheadhash{head}" in "".join(page_text.split()), page.page_number
            for char in page.chars:
                assert char["x0"] >= 0 and char["x1"] <= page.width + 0.5, char["text"]
                assert char["top"] >= 0 and char["bottom"] <= page.height + 0.5, char["text"]
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        source = SCREENSHOTS / "pack.pdf"
        source.write_bytes(pdf)
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
                SCREENSHOTS / "evidence-pack",
            ],
            check=True,
            timeout=60,
        )
        source.unlink()
