"""RFC 3161 timestamps on the timeline checkpoints, where a TSA is configured.

A checkpoint signed with the timeline key proves who wrote it, not when: whoever holds the
key can write a backdated one. A token from a Time Stamping Authority (TIMELINE_TSA_URL)
over the checkpoint line's digest proves the line existed at the TSA's time, and the TSA's
signature is checked against the certificate chain in TIMELINE_TSA_CERT. A TSA that does
not answer must not cost the checkpoint: the line is written without a token, the failure
is logged, and the verification counts the checkpoints left without one.
"""

import asyncio
import base64
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from asn1crypto import cms, pem, x509
from django.conf import settings
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko.sign.validation.status import TimestampSignatureStatus
from pyhanko_certvalidator import ValidationContext

logger = logging.getLogger("breachdesk.timeline.checkpoint")

DIGEST_ALGORITHM = "sha256"
# Seconds to wait for the TSA: the hourly task must not hang on it.
REQUEST_TIMEOUT = 10
# How far the TSA's time may lie from the time the line claims: clocks drift, but a line
# whose token is hours away from its own date was written at another time than it says.
CLOCK_TOLERANCE = timedelta(minutes=10)


def tsa_configured() -> bool:
    return bool(settings.TIMELINE_TSA_URL)


def checkpoint_timestamp_request(*, digest: bytes) -> str:
    """Ask the configured TSA for a token over `digest` (SHA-256); return it as base64 DER.

    Raises OSError (pyHanko's TimestampRequestError is one) when the TSA cannot be reached
    or refuses.
    """
    stamper = HTTPTimeStamper(settings.TIMELINE_TSA_URL, timeout=REQUEST_TIMEOUT)
    token = asyncio.run(stamper.async_timestamp(digest, DIGEST_ALGORITHM))
    return base64.b64encode(token.dump()).decode("ascii")


@dataclass(frozen=True)
class TimestampCheck:
    gen_time: datetime | None
    # Empty when the token matches the checkpoint and the TSA's signature is trusted.
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def _trust_roots() -> list[x509.Certificate]:
    data = Path(settings.TIMELINE_TSA_CERT).read_bytes()
    if not pem.detect(data):
        return [x509.Certificate.load(data)]
    return [x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)]


def checkpoint_timestamp_check(
    *, token: str, digest: bytes, written_at: datetime
) -> TimestampCheck:
    """Check a stored token: its message imprint is `digest`, its signature validates
    against the TSA certificates in TIMELINE_TSA_CERT (no fetching: the chain is what the
    token embeds plus what is configured), and its time is the line's `written_at`, give
    or take CLOCK_TOLERANCE."""
    if not settings.TIMELINE_TSA_CERT:
        return TimestampCheck(None, "it cannot be checked: TIMELINE_TSA_CERT is not set")
    try:
        roots = _trust_roots()
    except (OSError, ValueError) as error:
        return TimestampCheck(None, f"it cannot be checked: TIMELINE_TSA_CERT unreadable ({error})")
    try:
        content = cms.ContentInfo.load(base64.b64decode(token, validate=True))
        signed_data = content["content"]
        context = ValidationContext(
            trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail"
        )
        status = TimestampSignatureStatus(
            **asyncio.run(validate_tst_signed_data(signed_data, context, lambda _algorithm: digest))
        )
    except Exception as error:
        return TimestampCheck(None, f"its timestamp token cannot be read ({error})")
    if not status.intact:
        return TimestampCheck(status.timestamp, "its timestamp token is over another digest")
    if not status.valid:
        return TimestampCheck(status.timestamp, "its timestamp token's signature is invalid")
    if not status.trusted:
        return TimestampCheck(
            status.timestamp, "its timestamp token is not signed by the configured TSA"
        )
    if abs(status.timestamp - written_at) > CLOCK_TOLERANCE:
        return TimestampCheck(
            status.timestamp,
            f"its timestamp token dates it {status.timestamp.isoformat()}, not when it says",
        )
    return TimestampCheck(status.timestamp)
