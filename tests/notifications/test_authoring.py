"""What an author gets where the words are written: the variables, the checks, a preview,
the HTML built from the plain text, and legal's rejection with its reason."""

import pytest
from django.urls import reverse

from notifications import services
from notifications.models import TemplateVersion
from notifications.rendering import html_from_text

from .factories import MessageTemplateFactory, bodies_for

pytestmark = pytest.mark.django_db


def url(name, *args):
    return reverse(f"admin:notifications_{name}", args=args)


def fields(template, **overrides):
    return {
        "template": template.pk,
        "channel": "email",
        "language": "en",
        "data_categories": ["credentials"],
        "subject": "About your password",
        **bodies_for(["credentials"]),
        **overrides,
    }


def test_the_add_page_lists_every_variable_with_its_meaning(client, marketing):
    client.force_login(marketing)
    page = client.get(url("templateversion_add")).content.decode()
    assert "{{ reset_link }}" in page and "The person&#x27;s password reset link" in page
    assert "every message (Art. 34(2) GDPR)" in page
    assert "Leave the HTML body empty to have it built from the plain text." in page


def test_an_unknown_variable_is_refused_on_save_naming_its_part_and_line(client, marketing):
    template = MessageTemplateFactory.create()
    client.force_login(marketing)
    bad = bodies_for(["credentials"])["text_body"] + "\nHello {{ customer.nickname }}"
    page = client.post(url("templateversion_add"), fields(template, text_body=bad))
    assert page.status_code == 200
    text = page.content.decode()
    assert text.count("unknown variable {{ customer.nickname }} (line") == 1
    assert not TemplateVersion.objects.exists()


def test_the_html_part_is_built_from_the_plain_text_when_left_empty(client, marketing):
    template = MessageTemplateFactory.create()
    client.force_login(marketing)
    text = bodies_for(["credentials"])["text_body"] + "\n\nQuestions & answers: <ask us>."
    response = client.post(
        url("templateversion_add"), fields(template, text_body=text, html_body="")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    version = TemplateVersion.objects.get()
    assert version.html_body == html_from_text(text)
    assert "<p>Questions &amp; answers: &lt;ask us&gt;.</p>" in version.html_body
    assert "{{ reset_link }}" in version.html_body
    # The draft's page shows the checks and a preview with this incident's facts.
    page = client.get(url("templateversion_change", version.pk)).content.decode()
    assert "No unknown variables or forbidden tags" in page
    assert "Preview (sample person, this incident" in page
    assert version.template.incident.nature in page


def test_the_draft_page_says_what_the_words_still_lack_before_submit(client, marketing):
    template = MessageTemplateFactory.create()
    client.force_login(marketing)
    response = client.post(
        url("templateversion_add"),
        fields(template, text_body="Dear {{ customer.full_name }}, {{ reset_link }}", html_body=""),
    )
    assert response.status_code == 302
    version = TemplateVersion.objects.get()
    page = client.get(url("templateversion_change", version.pk)).content.decode()
    assert "This version cannot be approved" in page
    assert "must tell the nature of the breach" in page


def test_the_author_reads_legals_rejection_and_its_reason_on_the_version(client, marketing, legal):
    template = MessageTemplateFactory.create()
    version = services.template_version_create(
        template_id=template.pk,
        actor=marketing,
        channel="email",
        language="en",
        data_categories=["credentials"],
        subject="About your password",
        **bodies_for(["credentials"]),
    )
    services.template_version_submit(version_id=version.pk, actor=marketing)
    services.template_version_reject(
        version_id=version.pk, actor=legal, comment="Name the DPO's address."
    )
    client.force_login(marketing)

    page = client.get(url("templateversion_change", version.pk)).content.decode()

    assert 'id="rejection"' in page and "Rejected by legal" in page
    assert "Name the DPO&#x27;s address." in page and str(legal) in page
    assert url("templateversion_new_version", version.pk) in page


def test_html_from_text_keeps_template_tags_and_splits_paragraphs():
    text = "Hello {{ customer.first_name }},\nline two\n\n{% if reset_link %}a < b{% endif %}"
    assert html_from_text(text) == (
        "<p>Hello {{ customer.first_name }},<br>\nline two</p>\n"
        "<p>{% if reset_link %}a &lt; b{% endif %}</p>"
    )
