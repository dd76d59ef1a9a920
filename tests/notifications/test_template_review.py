from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from config import roles
from incidents.models import TimelineEvent
from notifications import services
from notifications.models import TemplateVersion
from notifications.selectors import (
    readability_is_too_hard,
    template_version_problems,
    template_version_readability,
)
from notifications.services import TransitionRefused

from .factories import IncidentFactory, TemplateVersionFactory, bodies_for

pytestmark = pytest.mark.django_db


def draft(actor, incident=None, *, categories=("credentials",), **overrides):
    incident = incident or IncidentFactory.create()
    fields = {
        "channel": "email",
        "language": "en",
        "data_categories": list(categories),
        "subject": "About your account",
        **bodies_for(list(categories)),
        **overrides,
    }
    return services.template_create(
        incident_id=incident.pk, name=f"Notice {incident.pk}", actor=actor, **fields
    )


def submitted(actor, **kwargs):
    version = draft(actor, **kwargs)
    return services.template_version_submit(version_id=version.pk, actor=actor)


def approve(version, actor):
    return services.template_version_approve(
        version_id=version.pk, actor=actor, content_hash=version.content_hash
    )


def kinds(incident_id):
    return list(
        TimelineEvent.objects.filter(incident_id=incident_id)
        .order_by("seq")
        .values_list("kind", flat=True)
    )


def test_legal_approves_a_submitted_version_and_the_timeline_says_so(marketing, legal):
    version = submitted(marketing)
    approved = approve(version, legal)
    assert approved.status == TemplateVersion.Status.APPROVED
    assert approved.reviewed_by == legal
    incident_id = version.template.incident_id
    assert kinds(incident_id) == [
        "message_template.created",
        "template_version.submitted",
        "template_version.approved",
    ]
    event = TimelineEvent.objects.get(incident_id=incident_id, kind="template_version.approved")
    assert event.actor == legal
    assert event.payload["content_hash"] == version.content_hash


def test_the_author_cannot_approve_even_as_a_legal_reviewer(make_user):
    writer = make_user("writer", roles.LEGAL_REVIEWER, roles.MARKETING_OPERATOR)
    version = submitted(writer)
    with pytest.raises(TransitionRefused, match="wrote"):
        approve(version, writer)
    version.refresh_from_db()
    assert version.status == TemplateVersion.Status.SUBMITTED


@pytest.mark.parametrize("role", [roles.CMO, roles.CISO, roles.DPO, roles.MARKETING_OPERATOR])
def test_only_legal_reviewers_approve_or_reject(marketing, make_user, role):
    version = submitted(marketing)
    other = make_user("other", role)
    with pytest.raises(TransitionRefused, match="legal reviewer"):
        approve(version, other)
    with pytest.raises(TransitionRefused, match="legal reviewer"):
        services.template_version_reject(version_id=version.pk, actor=other, comment="no")


def test_a_superuser_without_the_legal_role_approves_nothing(marketing):
    root = get_user_model().objects.create_superuser("root", password="a-long-test-password")
    version = submitted(marketing)
    with pytest.raises(TransitionRefused):
        approve(version, root)


def test_a_draft_must_be_submitted_before_approval(marketing, legal):
    version = draft(marketing)
    with pytest.raises(TransitionRefused, match="not submitted"):
        approve(version, legal)


def test_approval_binds_the_content_the_reviewer_saw(marketing, legal):
    version = submitted(marketing)
    with pytest.raises(TransitionRefused, match="changed since"):
        services.template_version_approve(version_id=version.pk, actor=legal, content_hash="0" * 64)


def test_rejection_needs_a_comment_and_is_on_the_timeline(marketing, legal):
    version = submitted(marketing)
    with pytest.raises(ValidationError):
        services.template_version_reject(version_id=version.pk, actor=legal, comment="  ")
    rejected = services.template_version_reject(
        version_id=version.pk, actor=legal, comment="Say 'password', not 'credential'."
    )
    assert rejected.status == TemplateVersion.Status.REJECTED
    assert rejected.review_comment == "Say 'password', not 'credential'."
    assert kinds(version.template.incident_id)[-1] == "template_version.rejected"
    with pytest.raises(TransitionRefused):
        approve(rejected, legal)


def test_a_draft_changes_in_place_but_a_submitted_or_approved_one_does_not(marketing, legal):
    version = draft(marketing)
    fields: dict[str, Any] = {
        "channel": "email",
        "language": "en",
        "data_categories": ["credentials"],
        "subject": "New subject",
        **bodies_for(["credentials"]),
    }
    edited = services.template_version_update(version_id=version.pk, actor=marketing, **fields)
    assert edited.subject == "New subject" and edited.content_hash != version.content_hash
    services.template_version_submit(version_id=version.pk, actor=marketing)
    with pytest.raises(TransitionRefused, match="new version"):
        services.template_version_update(version_id=version.pk, actor=marketing, **fields)
    approve(TemplateVersion.objects.get(pk=version.pk), legal)
    fields["subject"] = "Sneaky change"
    with pytest.raises(TransitionRefused, match="new version"):
        services.template_version_update(version_id=version.pk, actor=marketing, **fields)
    assert TemplateVersion.objects.get(pk=version.pk).subject == "New subject"


def test_approval_of_version_n_does_not_carry_to_n_plus_1(marketing, legal):
    v1 = approve(submitted(marketing), legal)
    v2 = services.template_version_copy(version_id=v1.pk, actor=marketing)
    assert (v2.number, v2.status, v2.reviewed_by) == (2, TemplateVersion.Status.DRAFT, None)
    assert v2.content_hash == v1.content_hash
    v2 = services.template_version_update(
        version_id=v2.pk,
        actor=marketing,
        channel="email",
        language="en",
        data_categories=["credentials"],
        subject="Changed words",
        text_body=v1.text_body,
        html_body=v1.html_body,
    )
    v1.refresh_from_db()
    assert v1.status == TemplateVersion.Status.APPROVED and v1.subject == "About your account"
    assert v2.status == TemplateVersion.Status.DRAFT
    with pytest.raises(TransitionRefused, match="not submitted"):
        approve(v2, legal)


def test_the_database_refuses_to_change_or_delete_an_approved_version(marketing, legal):
    version = approve(submitted(marketing), legal)
    with pytest.raises(IntegrityError), transaction.atomic():
        TemplateVersion.objects.filter(pk=version.pk).update(subject="Edited behind the service")
    with pytest.raises(IntegrityError), transaction.atomic():
        TemplateVersion.objects.filter(pk=version.pk).update(status="draft")
    if connection.vendor == "postgresql":
        with pytest.raises(IntegrityError), transaction.atomic():
            TemplateVersion.objects.filter(pk=version.pk).delete()
    version.refresh_from_db()
    assert version.subject == "About your account" and version.status == "approved"


def test_the_database_refuses_an_approval_by_the_author(marketing):
    version = draft(marketing)
    with pytest.raises(IntegrityError), transaction.atomic():
        TemplateVersion.objects.filter(pk=version.pk).update(
            status="approved", reviewed_by=marketing, reviewed_at=version.created_at
        )


@pytest.mark.parametrize(
    ("text_body", "expected"),
    [
        ("{{ customer.nickname }}", "unknown variable {{ customer.nickname }}"),
        ('{% include "admin/base.html" %}', "Invalid block tag"),
        ("{% load static %}", "Invalid block tag"),
        ("{{ contact_point|safe }}", "Invalid filter"),
    ],
)
def test_a_version_with_an_unknown_variable_or_forbidden_tag_cannot_be_submitted_or_approved(
    marketing, legal, text_body, expected
):
    incident = IncidentFactory.create()
    bad = bodies_for(["credentials"])["text_body"] + text_body
    # Refused where it is written, naming the part...
    with pytest.raises(ValidationError) as error:
        draft(marketing, incident, text_body=bad)
    assert expected in " ".join(error.value.message_dict["text_body"])
    assert not TemplateVersion.objects.exists()
    # ...and a version written before this rule (or by hand) is neither submitted...
    good = draft(marketing, incident)
    TemplateVersion.objects.filter(pk=good.pk).update(text_body=bad)
    version = TemplateVersion.objects.get(pk=good.pk)
    with pytest.raises(TransitionRefused, match=expected):
        services.template_version_submit(version_id=version.pk, actor=marketing)
    # ...nor approved, even if it reached the reviewers.
    TemplateVersion.objects.filter(pk=version.pk).update(status="submitted")
    with pytest.raises(TransitionRefused, match=expected):
        approve(version, legal)
    assert TemplateVersion.objects.get(pk=version.pk).status == "submitted"


def test_art_34_contents_are_required_before_review(marketing):
    version = draft(
        marketing,
        text_body="Dear {{ customer.full_name }}, something happened. {{ reset_link }}",
    )
    problems = [str(p) for p in template_version_problems(version=version)]
    assert "text body: must tell the nature of the breach: use {{ incident.nature }}" in problems
    assert "text body: must tell the contact point: use {{ contact_point }}" in problems
    assert any("likely consequences" in p for p in problems)
    assert any("measures taken" in p for p in problems)
    assert any("measures proposed and advised" in p for p in problems)
    assert not any(p.startswith("HTML body") for p in problems)
    with pytest.raises(TransitionRefused, match="nature of the breach"):
        services.template_version_submit(version_id=version.pk, actor=marketing)


def test_a_password_version_must_carry_the_reset_link_and_a_card_version_the_code(marketing):
    bodies = bodies_for([])
    for categories, expected in (
        (["credentials"], "the password reset link: use {{ reset_link }}"),
        (["payment_card"], "the credit monitoring code: use {{ remediation_code }}"),
    ):
        version = TemplateVersionFactory.create(data_categories=categories, **bodies)
        problems = [str(p) for p in template_version_problems(version=version)]
        assert f"text body: must tell {expected}" in problems
        assert f"HTML body: must tell {expected}" in problems


def test_bad_input_names_the_field(marketing):
    incident = IncidentFactory.create()
    with pytest.raises(ValidationError) as error:
        services.template_create(
            incident_id=incident.pk,
            name="x",
            actor=marketing,
            channel="fax",
            language="english",
            data_categories=["dna"],
            subject="",
            text_body="",
            html_body="",
        )
    assert set(error.value.message_dict) == {"channel", "language", "data_categories", "subject"}
    assert not TemplateVersion.objects.exists()


def test_versions_of_a_template_are_numbered_one_after_the_other(marketing):
    v1 = draft(marketing)
    v2 = services.template_version_copy(version_id=v1.pk, actor=marketing)
    v3 = services.template_version_copy(version_id=v1.pk, actor=marketing)
    assert [v1.number, v2.number, v3.number] == [1, 2, 3]


def test_hard_words_are_flagged_for_the_reviewer(settings, marketing):
    settings.BREACH_MESSAGE_MIN_READING_EASE = 50
    easy = TemplateVersionFactory.create(language="en")
    hard = TemplateVersionFactory.create(
        language="en",
        text_body=easy.text_body
        + " Notwithstanding the aforementioned considerations, the organisation's "
        "comprehensive investigation determined that unauthorised exfiltration of "
        "authentication credentials materially occurred " * 3,
    )
    easy_score = template_version_readability(version=easy)
    hard_score = template_version_readability(version=hard)
    assert easy_score is not None and hard_score is not None
    assert easy_score.score > hard_score.score
    assert not readability_is_too_hard(easy_score)
    assert readability_is_too_hard(hard_score)
