"""Template versions and their legal review. Reviews go on the incident timeline."""

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from config import roles
from incidents.models import DataCategory, Incident, TimelineEvent
from incidents.services import timeline_append

from .. import events
from ..models import Channel, MessageTemplate, TemplateVersion
from ..rendering import html_from_text, template_source_problems
from ..selectors import language_primary, template_version_problems
from .common import Actor, TransitionRefused, acting_user, holds_role

VERSION_FIELDS = ("channel", "language", "data_categories", "subject", "text_body", "html_body")


REVIEW_KINDS: dict[str, str] = {
    TemplateVersion.Status.APPROVED: events.TEMPLATE_VERSION_APPROVED,
    TemplateVersion.Status.REJECTED: events.TEMPLATE_VERSION_REJECTED,
}
TEMPLATE_VERSION_EDITED = events.TEMPLATE_VERSION_EDITED


def template_version_fields_clean(
    *,
    channel: str,
    language: str,
    data_categories: Iterable[str],
    subject: str,
    text_body: str,
    html_body: str,
) -> dict[str, Any]:
    """Normalised version fields with their content hash; a ValidationError names each bad
    field. Writes nothing, so admin forms call it in clean()."""
    errors: dict[str, str | list[str]] = {}
    if channel not in Channel.values:
        errors["channel"] = f"unknown channel {channel!r}"
    language = language.strip().lower()
    if not language or language != language_primary(language) or len(language) > 3:
        errors["language"] = f"{language!r} is not a two-letter language code such as en or de"
    categories = sorted(set(data_categories))
    unknown = set(categories) - set(DataCategory.values)
    if unknown:
        errors["data_categories"] = f"unknown data categories: {', '.join(sorted(unknown))}"
    if not subject.strip():
        errors["subject"] = "a subject is required"
    if not html_body.strip():
        # The author need not write HTML: the plain words are the HTML part's words too.
        html_body = html_from_text(text_body)
    # Syntax and unknown variables are refused where the words are written, naming the
    # part and line; what the words must still tell is listed, but a draft may lack it.
    for name, part, source in (
        ("subject", "subject", subject),
        ("text_body", "text body", text_body),
        ("html_body", "HTML body", html_body),
    ):
        if not source.strip() or name in errors:
            continue
        part_problems, _used = template_source_problems(part=part, source=source)
        if part_problems:
            errors[name] = [p.message for p in part_problems]
    if errors:
        raise ValidationError(errors)
    fields = {
        "channel": channel,
        "language": language,
        "data_categories": categories,
        "subject": subject.strip(),
        "text_body": text_body,
        "html_body": html_body,
    }
    fields["content_hash"] = TemplateVersion(**fields).compute_content_hash()
    return fields


@transaction.atomic
def message_template_create(*, incident_id: int, name: str, actor: Actor) -> MessageTemplate:
    """A template with no words yet; its versions carry them."""
    if not name.strip():
        raise ValidationError({"name": "a name is required"})
    if not Incident.objects.filter(pk=incident_id).exists():
        raise ValidationError({"incident": f"incident {incident_id} does not exist"})
    if MessageTemplate.objects.filter(incident_id=incident_id, name=name.strip()).exists():
        raise ValidationError({"name": f"this incident already has a template named {name!r}"})
    return MessageTemplate.objects.create(
        incident_id=incident_id, name=name.strip(), created_by=acting_user(actor)
    )


@transaction.atomic
def template_create(
    *,
    incident_id: int,
    name: str,
    actor: Actor,
    channel: str,
    language: str,
    data_categories: Iterable[str],
    subject: str,
    text_body: str,
    html_body: str,
) -> TemplateVersion:
    """A new template with its first version, a draft."""
    template = message_template_create(incident_id=incident_id, name=name, actor=actor)
    fields = template_version_fields_clean(
        channel=channel,
        language=language,
        data_categories=data_categories,
        subject=subject,
        text_body=text_body,
        html_body=html_body,
    )
    version = TemplateVersion.objects.create(
        template=template, number=1, created_by=acting_user(actor), **fields
    )
    timeline_append(
        incident_id=incident_id,
        kind="message_template.created",
        actor=actor,
        payload=_version_payload(version),
    )
    return version


@transaction.atomic
def template_version_create(
    *,
    template_id: int,
    actor: Actor,
    channel: str,
    language: str,
    data_categories: Iterable[str],
    subject: str,
    text_body: str,
    html_body: str,
) -> TemplateVersion:
    """Version N+1 of a template, a draft that needs its own review."""
    fields = template_version_fields_clean(
        channel=channel,
        language=language,
        data_categories=data_categories,
        subject=subject,
        text_body=text_body,
        html_body=html_body,
    )
    # The template row lock numbers concurrent new versions one after the other.
    template = MessageTemplate.objects.select_for_update().get(pk=template_id)
    last = template.versions.aggregate(last=Max("number"))["last"] or 0
    version = TemplateVersion.objects.create(
        template=template, number=last + 1, created_by=acting_user(actor), **fields
    )
    timeline_append(
        incident_id=template.incident_id,
        kind="template_version.created",
        actor=actor,
        payload=_version_payload(version),
    )
    return version


def template_version_copy(*, version_id: int, actor: Actor) -> TemplateVersion:
    """Start editing any version, approved ones included, as a new draft version."""
    source = TemplateVersion.objects.get(pk=version_id)
    return template_version_create(
        template_id=source.template_id,
        actor=actor,
        **{name: getattr(source, name) for name in VERSION_FIELDS},
    )


@transaction.atomic
def template_version_update(
    *,
    version_id: int,
    actor: Actor,
    channel: str,
    language: str,
    data_categories: Iterable[str],
    subject: str,
    text_body: str,
    html_body: str,
) -> TemplateVersion:
    """Change a draft in place. Anything already submitted or reviewed stays as it was."""
    fields = template_version_fields_clean(
        channel=channel,
        language=language,
        data_categories=data_categories,
        subject=subject,
        text_body=text_body,
        html_body=html_body,
    )
    updated = TemplateVersion.objects.filter(
        pk=version_id, status=TemplateVersion.Status.DRAFT
    ).update(**fields)
    if updated != 1:
        version = TemplateVersion.objects.get(pk=version_id)
        raise TransitionRefused(
            f"{version} is {version.get_status_display().lower()}: it cannot change; "
            "edit it as a new version, which needs its own review."
        )
    version = TemplateVersion.objects.select_related("template").get(pk=version_id)
    # Whoever edits the words is one of their writers: legal may not approve them after.
    timeline_append(
        incident_id=version.template.incident_id,
        kind=TEMPLATE_VERSION_EDITED,
        actor=actor,
        payload=_version_payload(version),
    )
    return version


def template_version_writers(*, version: TemplateVersion) -> set[int]:
    """Ids of everyone who wrote these words: the author and every editor."""
    editors = TimelineEvent.objects.filter(
        incident_id=version.template.incident_id,
        kind=TEMPLATE_VERSION_EDITED,
        payload__version=version.pk,
        actor__isnull=False,
    ).values_list("actor_id", flat=True)
    return {i for i in [version.created_by_id, *editors] if i is not None}


def _problems_error(version: TemplateVersion) -> None:
    problems = template_version_problems(version=version)
    if problems:
        raise TransitionRefused(
            f"{version} cannot be reviewed: " + "; ".join(str(p) for p in problems)
        )


@transaction.atomic
def template_version_submit(*, version_id: int, actor: Actor) -> TemplateVersion:
    """Hand a draft to legal. Refused while it has unknown variables, forbidden tags or
    misses what Art. 34(2) requires."""
    version = TemplateVersion.objects.select_related("template").get(pk=version_id)
    _problems_error(version)
    updated = TemplateVersion.objects.filter(
        pk=version_id, status=TemplateVersion.Status.DRAFT, content_hash=version.content_hash
    ).update(status=TemplateVersion.Status.SUBMITTED, submitted_at=timezone.now())
    if updated != 1:
        raise TransitionRefused(f"{version} is not a draft (it is {version.get_status_display()}).")
    timeline_append(
        incident_id=version.template.incident_id,
        kind="template_version.submitted",
        actor=actor,
        payload=_version_payload(version),
    )
    version.refresh_from_db()
    return version


def _review_guard(version: TemplateVersion, actor: Actor) -> None:
    reviewer = acting_user(actor)
    if (
        reviewer is None
        or not holds_role(reviewer, roles.LEGAL_REVIEWER)
        or not reviewer.has_perm("notifications.review_templateversion")
    ):
        raise TransitionRefused("Only a legal reviewer reviews template versions.")


@transaction.atomic
def template_version_approve(
    *, version_id: int, actor: Actor, content_hash: str, comment: str = ""
) -> TemplateVersion:
    """Legal approves exactly the content it saw (`content_hash`), never its own words."""
    version = TemplateVersion.objects.select_related("template").get(pk=version_id)
    _review_guard(version, actor)
    if actor is not None and actor.pk in template_version_writers(version=version):
        raise TransitionRefused(f"{actor} wrote or edited {version} and cannot approve it.")
    if content_hash != version.content_hash:
        raise TransitionRefused(f"{version} changed since it was shown; review it again.")
    _problems_error(version)
    return _review_close(
        version=version,
        outcome=TemplateVersion.Status.APPROVED,
        actor=actor,
        comment=comment,
        content_hash=content_hash,
    )


@transaction.atomic
def template_version_reject(*, version_id: int, actor: Actor, comment: str) -> TemplateVersion:
    """Legal sends a submitted version back, saying why; the writer edits a new version."""
    version = TemplateVersion.objects.select_related("template").get(pk=version_id)
    _review_guard(version, actor)
    if not comment.strip():
        raise ValidationError({"comment": "say what must change"})
    return _review_close(
        version=version, outcome=TemplateVersion.Status.REJECTED, actor=actor, comment=comment
    )


def _review_close(
    *, version: TemplateVersion, outcome: str, actor: Actor, comment: str, **unchanged: str
) -> TemplateVersion:
    """Move a submitted version to `outcome` once (a conditional update: two reviewers
    racing cannot both decide) and put the decision on the incident timeline."""
    updated = TemplateVersion.objects.filter(
        pk=version.pk, status=TemplateVersion.Status.SUBMITTED, **unchanged
    ).update(
        status=outcome,
        reviewed_by=actor,
        reviewed_at=timezone.now(),
        review_comment=comment.strip(),
    )
    if updated != 1:
        raise TransitionRefused(
            f"{version} is {version.get_status_display().lower()}, not submitted for review."
        )
    timeline_append(
        incident_id=version.template.incident_id,
        kind=REVIEW_KINDS[outcome],
        actor=actor,
        payload={**_version_payload(version), "comment": comment.strip()},
    )
    version.refresh_from_db()
    return version


def _version_payload(version: TemplateVersion) -> dict[str, Any]:
    return {
        "template": version.template_id,
        "version": version.pk,
        "number": version.number,
        "language": version.language,
        "channel": version.channel,
        "content_hash": version.content_hash,
    }
