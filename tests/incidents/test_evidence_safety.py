"""Text from users reaches the PDF as text: nothing in it makes the renderer fetch a URL
or read a file. Network and file access are watched with a real HTTP server on loopback
and a canary file whose access time would move if anything read it."""

import io
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pypdf import PdfReader

from incidents.evidence.render import BASE_URL, StaticOnlyFetcher, pdf_render
from incidents.evidence.services import evidence_pack_render

from .evidence_scenario import full_incident

pytestmark = pytest.mark.django_db


@dataclass
class Watch:
    url: str
    canary: Path
    hits: list[str] = field(default_factory=list)

    def canary_read(self) -> bool:
        # relatime moves the access time on the first read after its mtime.
        return os.stat(self.canary).st_atime != 0


@pytest.fixture
def watch(tmp_path) -> Iterator[Watch]:
    hits: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body { color: red }")

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    canary = tmp_path / "canary.txt"
    canary.write_text("secret")
    os.utime(canary, (0, canary.stat().st_mtime))
    yield Watch(url=f"http://127.0.0.1:{server.server_address[1]}", canary=canary, hits=hits)
    server.shutdown()
    server.server_close()


def payloads(watch: Watch) -> str:
    return (
        f'<img src="file://{watch.canary}">'
        f'<link rel="stylesheet" href="{watch.url}/link.css">'
        f'<style>@import url("{watch.url}/import.css");</style>'
        f'<img src="{watch.url}/pixel.png">'
    )


def test_monitor_sees_a_fetch_when_one_happens(watch):
    """The watch itself works: an unrestricted fetcher does reach the server and the file."""
    from weasyprint import HTML

    HTML(string=f"<p>x</p>{payloads(watch)}").write_pdf()
    assert "/import.css" in watch.hits
    assert watch.canary_read()


def test_user_text_with_markup_fetches_nothing_and_reads_as_text(make_user, watch):
    nature = f"Attack. {payloads(watch)}"
    incident = full_incident(make_user, nature=nature).incident

    rendered = evidence_pack_render(incident_id=incident.pk)

    assert watch.hits == []
    assert not watch.canary_read()
    assert rendered.refused == []  # escaped: the renderer was never even asked
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(rendered.pdf)).pages)
    assert "@import" in text and "file://" in "".join(text.split())


def test_fetcher_refuses_markup_that_reaches_it(watch):
    fetcher = StaticOnlyFetcher()
    pdf_render(html=f"<p>raw markup</p>{payloads(watch)}", fetcher=fetcher)

    assert watch.hits == []
    assert not watch.canary_read()
    assert f"file://{watch.canary}" in fetcher.refused
    assert f"{watch.url}/import.css" in fetcher.refused
    assert f"{watch.url}/link.css" in fetcher.refused


def test_fetcher_serves_static_files_and_data_uris_only():
    fetcher = StaticOnlyFetcher()
    served = fetcher.fetch(f"{BASE_URL}static/admin/css/base.css")
    assert served.content_type == "text/css" and b"body" in served.read()
    assert fetcher.fetch("data:text/plain,hello").read() == b"hello"
    for url in (
        f"{BASE_URL}static/../../../etc/passwd",
        f"{BASE_URL}media/evidence/other.pdf",
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
    ):
        with pytest.raises(Exception, match="only static files"):
            fetcher.fetch(url)
    assert len(fetcher.refused) == 4
