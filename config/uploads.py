"""Upload size limits for the files the admin reads whole (forensic lists, bounce
reports, remediation codes). Django has already streamed the upload to a temporary file
when the form is validated; the size is checked there, before anything reads it."""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError


def upload_size_check(upload: Any) -> None:
    limit = settings.UPLOAD_MAX_BYTES
    if upload is not None and upload.size > limit:
        raise ValidationError(
            f"{upload.name} is {upload.size / 1_000_000:.1f} MB; files up to "
            f"{limit / 1_000_000:.0f} MB are read here (UPLOAD_MAX_MB)."
        )
