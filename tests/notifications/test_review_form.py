"""Legal's review page chooses nothing for the reviewer, and a rejection reaches its author."""

import pytest
from django.urls import reverse

from notifications import services
from notifications.models import TemplateVersion

from .test_template_review import submitted

pytestmark = pytest.mark.django_db


def test_the_review_form_has_no_decision_chosen_and_refuses_none(client, marketing, legal):
    version = submitted(marketing)
    client.force_login(legal)
    url = reverse("admin:notifications_templateversion_review", args=[version.pk])

    page = client.get(url)
    assert page.context["form"]["decision"].value() in (None, "")
    client.post(url, {"content_hash": version.content_hash, "comment": ""})
    assert TemplateVersion.objects.get(pk=version.pk).status == TemplateVersion.Status.SUBMITTED


def test_a_rejection_with_its_comment_waits_on_the_authors_dashboard(client, marketing, legal):
    version = submitted(marketing)
    services.template_version_reject(
        version_id=version.pk, actor=legal, comment="Name the DPO's address."
    )
    client.force_login(marketing)

    page = client.get("/").content.decode()

    assert "Rejected by legal" in page and "Name the DPO&#x27;s address." in page
    assert reverse("admin:notifications_templateversion_new_version", args=[version.pk]) in page

    services.template_version_copy(version_id=version.pk, actor=marketing)
    assert "Rejected by legal" not in client.get("/").content.decode()
