"""Pages carry a Content Security Policy that keeps a message preview from loading remote
images or styles; stored files are readable by the application's user only."""

import stat

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from config import roles

pytestmark = pytest.mark.django_db


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_admin_pages_allow_images_and_styles_from_this_site_only(client, make_user):
    client.force_login(make_user("lena", roles.LEGAL_REVIEWER))

    policy = _policy(client.get(reverse("admin:index")))

    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["style-src"][0] == "'self'" and "https:" not in policy["style-src"]
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]


def test_stored_files_are_readable_by_the_owner_only(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    name = default_storage.save("letters/batch-1.csv", ContentFile(b"name,street\n"))

    mode = stat.S_IMODE((tmp_path / name).stat().st_mode)

    assert mode == 0o600
    assert stat.S_IMODE((tmp_path / "letters").stat().st_mode) == 0o700
