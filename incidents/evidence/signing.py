"""PAdES signature of the evidence pack (pyHanko), with the key the operator configures.

EVIDENCE_SIGNING_P12 names a PKCS#12 file (certificate and private key) and
EVIDENCE_SIGNING_P12_PASSWORD its password. Without them the pack is unsigned, and its
cover says so. A signature makes any later change to the file show in a PDF reader.
"""

import io
from pathlib import Path
from typing import Any

from django.conf import settings


def signing_configured() -> bool:
    return bool(settings.EVIDENCE_SIGNING_P12) and Path(settings.EVIDENCE_SIGNING_P12).is_file()


def signer_name() -> str:
    """Who the certificate names, for the cover; empty when no key is configured."""
    if not signing_configured():
        return ""
    signer = _signer()
    return str(signer.signing_cert.subject.human_friendly)


def _signer() -> Any:
    from pyhanko.sign import signers

    password = settings.EVIDENCE_SIGNING_P12_PASSWORD
    signer = signers.SimpleSigner.load_pkcs12(
        pfx_file=settings.EVIDENCE_SIGNING_P12,
        passphrase=password.encode() if password else None,
    )
    if signer is None:
        raise ValueError(f"{settings.EVIDENCE_SIGNING_P12} holds no usable key and certificate")
    return signer


def pdf_sign(*, pdf: bytes, reason: str) -> bytes:
    """The PDF with a PAdES (B-B) signature appended as an incremental update."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = signers.PdfSignatureMetadata(
        field_name="BreachdeskEvidence",
        reason=reason,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
    )
    out = signers.PdfSigner(meta, signer=_signer()).sign_pdf(writer)
    return bytes(out.getbuffer())
