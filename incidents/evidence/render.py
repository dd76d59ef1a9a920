"""PDF rendering for incident documents: a URL fetcher that reaches nothing but our own
static files and data: URIs, and PDF/A output."""

import logging
import mimetypes
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles import finders
from weasyprint import HTML, Attachment
from weasyprint.urls import URLFetcher, URLFetcherResponse, URLFetchingError

logger = logging.getLogger(__name__)

# Documents are laid out as if served from here, so {% static %} paths resolve to it and
# nothing relative can point at the server's file system.
BASE_URL = "https://evidence.breachdesk.invalid/"
# PDF/A-3 (not 1 or 2) because the pack carries its machine-readable annexes as files.
PDF_VARIANT = "pdf/a-3b"


class StaticOnlyFetcher(URLFetcher):
    """Serves the project's static files and data: URIs; refuses and logs everything else,
    so text that slipped into markup still reaches neither the network nor the disk."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> Any:
        if url.startswith("data:"):
            return super().fetch(url, headers)
        prefix = BASE_URL + settings.STATIC_URL.lstrip("/")
        if url.startswith(prefix):
            relative = url[len(prefix) :].split("?")[0].split("#")[0]
            found = finders.find(relative) if ".." not in Path(relative).parts else None
            if isinstance(found, str):
                content_type = mimetypes.guess_type(found)[0] or "application/octet-stream"
                return URLFetcherResponse(
                    url, body=Path(found).read_bytes(), headers={"Content-Type": content_type}
                )
        self.refused.append(url)
        logger.warning("PDF rendering refused to fetch %s", url)
        raise URLFetchingError(f"only static files and data: URIs may be fetched, not {url}")


def pdf_render(
    *,
    html: str,
    fetcher: StaticOnlyFetcher | None = None,
    attachments: Sequence[tuple[Path, str, str]] = (),
) -> bytes:
    """HTML to PDF/A bytes; `attachments` are (path, name, description) embedded as files."""
    fetcher = fetcher or StaticOnlyFetcher()
    files = [
        Attachment(
            filename=str(path),
            name=name,
            description=description,
            url_fetcher=fetcher,
            relationship="Data",
        )
        for path, name, description in attachments
    ]
    document = HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher)
    pdf = document.write_pdf(pdf_variant=PDF_VARIANT, attachments=files, uncompressed_pdf=False)
    if not isinstance(pdf, bytes):
        raise TypeError("write_pdf without a target returns bytes")
    return pdf
