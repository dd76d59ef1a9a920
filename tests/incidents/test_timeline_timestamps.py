"""RFC 3161 timestamps on the timeline checkpoints, against a real TSA on loopback.

The TSA is pyHanko's DummyTimeStamper behind a plain HTTP server, signing with a TSA
certificate issued by a CA made here; `verify_timeline` trusts that CA through
TIMELINE_TSA_CERT.
"""

import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from asn1crypto import keys, tsp, x509
from cryptography import x509 as pyca_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.management import call_command
from pyhanko.sign.timestamps import DummyTimeStamper
from pypdf import PdfReader

from incidents.evidence.services import evidence_pack_render
from incidents.selectors import timeline_verify
from incidents.services import timeline_append
from incidents.services.checkpoints import checkpoints_read, timeline_checkpoint_write

from .factories import IncidentFactory

NOTE = "incident.updated"


def _certificate(*, subject, issuer, public_key, signing_key, ca):
    now = datetime.now(UTC)
    builder = (
        pyca_x509.CertificateBuilder()
        .subject_name(pyca_x509.Name([pyca_x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(pyca_x509.Name([pyca_x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(public_key)
        .serial_number(pyca_x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(pyca_x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            pyca_x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            pyca_x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    return builder.sign(signing_key, hashes.SHA256())


class _TsaHandler(BaseHTTPRequestHandler):
    stamper: DummyTimeStamper

    def do_POST(self):
        request = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
        body = self.stamper.request_tsa_response(request).dump()
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def tsa(settings, tmp_path) -> Iterator[DummyTimeStamper]:
    """A TSA listening on 127.0.0.1, configured with its CA as the trusted chain; set its
    `fixed_dt` to choose the time it stamps."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    # DummyTimeStamper signs with RSA only.
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_cert = _certificate(
        subject="Test CA",
        issuer="Test CA",
        public_key=ca_key.public_key(),
        signing_key=ca_key,
        ca=True,
    )
    tsa_cert = _certificate(
        subject="Test TSA",
        issuer="Test CA",
        public_key=tsa_key.public_key(),
        signing_key=ca_key,
        ca=False,
    )
    der = serialization.Encoding.DER
    stamper = DummyTimeStamper(
        tsa_cert=x509.Certificate.load(tsa_cert.public_bytes(der)),
        tsa_key=keys.PrivateKeyInfo.load(
            tsa_key.private_bytes(
                der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
    )
    handler = type("Handler", (_TsaHandler,), {"stamper": stamper})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    chain = tmp_path / "tsa-chain.pem"
    chain.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    settings.TIMELINE_TSA_URL = f"http://127.0.0.1:{server.server_address[1]}/"
    settings.TIMELINE_TSA_CERT = str(chain)
    yield stamper
    server.shutdown()
    server.server_close()
    thread.join()


def append(incident, n):
    for i in range(n):
        timeline_append(incident_id=incident.pk, kind=NOTE, actor=None, payload={"i": i})


def verify_output(incident_id):
    out = io.StringIO()
    call_command("verify_timeline", str(incident_id), stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_checkpoint_carries_a_tsa_token_that_verifies_with_its_time(tsa):
    tsa.fixed_dt = gen_time = datetime.now(UTC).replace(microsecond=0)
    incident = IncidentFactory.create()
    append(incident, 2)

    assert timeline_checkpoint_write() == 1

    (checkpoint,) = checkpoints_read(incident_id=incident.pk)
    assert checkpoint.signed and checkpoint.timestamp
    check = timeline_verify(incident_id=incident.pk)
    assert (check.ok, check.timestamped, check.untimestamped) == (True, 1, 0)
    assert check.latest_timestamp == gen_time
    output = verify_output(incident.pk)
    assert (
        f"1 checkpoints timestamped by the TSA, the latest at {gen_time:%Y-%m-%d %H:%M:%S} UTC"
    ) in output
    assert "without a timestamp" not in output


@pytest.mark.django_db
def test_the_evidence_pack_states_the_verified_timestamps(tsa):
    tsa.fixed_dt = gen_time = datetime.now(UTC).replace(microsecond=0)
    incident = IncidentFactory.create()
    append(incident, 1)
    timeline_checkpoint_write()

    rendered = evidence_pack_render(incident_id=incident.pk)

    first = " ".join(PdfReader(io.BytesIO(rendered.pdf)).pages[0].extract_text().split())
    assert (
        "1 of them carry a verified RFC 3161 timestamp from the Time Stamping Authority "
        f"(the latest: {gen_time:%Y-%m-%d %H:%M:%S} UTC)"
    ) in first


@pytest.mark.django_db
def test_a_token_moved_onto_another_checkpoint_is_reported(tsa, timeline_checkpoints):
    """Whoever holds the timeline key can sign a new line, but not get it timestamped: a
    token borrowed from another line is over another digest."""
    incident = IncidentFactory.create()
    append(incident, 1)
    timeline_checkpoint_write()
    append(incident, 1)
    timeline_checkpoint_write()
    (path,) = timeline_checkpoints.iterdir()
    first, second = (json.loads(line) for line in path.read_text().splitlines())
    path.write_text(json.dumps(first) + "\n" + json.dumps({**second, "tsr": first["tsr"]}) + "\n")

    check = timeline_verify(incident_id=incident.pk)

    assert not check.ok and check.first_broken_seq == 2
    assert "its timestamp token is over another digest" in check.problem


@pytest.mark.django_db
def test_a_line_dated_away_from_its_token_is_reported(tsa):
    """Whoever holds the key can write a line dated in the past, but its token carries the
    time it was really stamped."""
    tsa.fixed_dt = datetime.now(UTC) + timedelta(hours=2)
    incident = IncidentFactory.create()
    append(incident, 1)
    timeline_checkpoint_write()

    check = timeline_verify(incident_id=incident.pk)

    assert not check.ok and "not when it says" in check.problem


@pytest.mark.django_db
def test_a_token_from_an_untrusted_tsa_is_reported(tsa, settings, tmp_path):
    incident = IncidentFactory.create()
    append(incident, 1)
    timeline_checkpoint_write()
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = tmp_path / "other-ca.pem"
    other.write_bytes(
        _certificate(
            subject="Other CA",
            issuer="Other CA",
            public_key=other_key.public_key(),
            signing_key=other_key,
            ca=True,
        ).public_bytes(serialization.Encoding.PEM)
    )
    settings.TIMELINE_TSA_CERT = str(other)

    check = timeline_verify(incident_id=incident.pk)

    assert not check.ok and "not signed by the configured TSA" in check.problem


@pytest.mark.django_db
def test_a_tsa_that_is_down_costs_the_timestamp_not_the_checkpoint(tsa, settings, caplog):
    settings.TIMELINE_TSA_URL = "http://127.0.0.1:9/"  # discard: nothing listens
    incident = IncidentFactory.create()
    append(incident, 2)

    assert timeline_checkpoint_write() == 1

    (checkpoint,) = checkpoints_read(incident_id=incident.pk)
    assert checkpoint.signed and not checkpoint.timestamp
    assert "no timestamp from http://127.0.0.1:9/" in caplog.text
    check = timeline_verify(incident_id=incident.pk)
    assert (check.ok, check.untimestamped) == (True, 1)
    assert "1 checkpoints without a timestamp" in verify_output(incident.pk)


@pytest.mark.django_db
def test_without_a_tsa_nothing_changes(settings):
    settings.TIMELINE_TSA_URL = ""
    incident = IncidentFactory.create()
    append(incident, 1)
    timeline_checkpoint_write()

    (checkpoint,) = checkpoints_read(incident_id=incident.pk)
    assert not checkpoint.timestamp
    assert "timestamp" not in verify_output(incident.pk)
