"""Communications and their sign-off by the CMO and the CISO. Sign-offs and voids go on
the incident timeline in the same transaction."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.models import DataCategory, Incident, TimelineEvent
from incidents.services import timeline_append

from ..models import (
    Channel,
    Communication,
    CommunicationSignOff,
    CommunicationVersion,
    SignOffRole,
    TemplateVersion,
)
from ..selectors import (
    INCIDENT_FACTS,
    INCIDENT_RENDERED_DATES,
    communication_active_sign_offs,
    communication_content_hash,
    communication_sign_off_blockers,
    language_primary,
)
from .common import Actor, TransitionRefused, acting_user, sign_off_record, sign_off_signer
from .templates import template_version_writers


def communication_fields_clean(
    *,
    incident_id: int,
    name: str,
    audience_data_categories: Iterable[str],
    audience_countries: Iterable[str],
    channels: Iterable[str],
    send_window_start: datetime,
    send_window_end: datetime,
    fallback_language: str,
    version_ids: Iterable[int],
) -> tuple[dict[str, Any], list[TemplateVersion]]:
    """Normalised communication fields and the chosen versions; a ValidationError names
    each bad field. Writes nothing, so admin forms call it in clean()."""
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = "a name is required"
    categories = sorted(set(audience_data_categories))
    unknown = set(categories) - set(DataCategory.values)
    if unknown:
        errors["audience_data_categories"] = f"unknown data categories: {', '.join(unknown)}"
    countries = sorted({c.strip().upper() for c in audience_countries if c.strip()})
    bad = [c for c in countries if len(c) != 2 or not c.isalpha()]
    if bad:
        errors["audience_countries"] = f"not ISO 3166 country codes: {', '.join(bad)}"
    chosen_channels = sorted(set(channels))
    if not chosen_channels:
        errors["channels"] = "choose at least one channel"
    elif set(chosen_channels) - set(Channel.values):
        errors["channels"] = (
            f"unknown channels: {', '.join(set(chosen_channels) - set(Channel.values))}"
        )
    for label, value in (
        ("send_window_start", send_window_start),
        ("send_window_end", send_window_end),
    ):
        if value is None or timezone.is_naive(value):
            errors[label] = "a date and time with a time zone is required"
    if (
        "send_window_start" not in errors
        and "send_window_end" not in errors
        and send_window_end <= send_window_start
    ):
        errors["send_window_end"] = "the send window must end after it starts"
    fallback = fallback_language.strip().lower()
    if not fallback or fallback != language_primary(fallback):
        errors["fallback_language"] = f"{fallback_language!r} is not a language code such as en"
    ids = sorted(set(version_ids))
    versions = list(TemplateVersion.objects.filter(pk__in=ids).select_related("template"))
    version_errors = []
    if len(versions) != len(ids):
        missing = set(ids) - {v.pk for v in versions}
        version_errors.append(f"no template version {', '.join(map(str, sorted(missing)))}")
    seen_templates: dict[int, TemplateVersion] = {}
    seen_keys: dict[tuple[str, str, tuple[str, ...]], TemplateVersion] = {}
    for version in versions:
        if version.status != TemplateVersion.Status.APPROVED:
            version_errors.append(f"{version} is not approved by legal")
        if version.template.incident_id != incident_id:
            version_errors.append(f"{version} belongs to another incident")
        if chosen_channels and version.channel not in chosen_channels:
            version_errors.append(f"{version} is for a channel this communication does not use")
        if version.template_id in seen_templates:
            version_errors.append(
                f"{version} and {seen_templates[version.template_id]} are two versions "
                "of one template; choose one"
            )
        seen_templates[version.template_id] = version
        key = (version.channel, version.language, tuple(sorted(version.data_categories)))
        if key in seen_keys:
            version_errors.append(
                f"{version} and {seen_keys[key]} are for the same channel, language and "
                "data categories; choose one"
            )
        seen_keys[key] = version
    if version_errors:
        errors["versions"] = "; ".join(version_errors)
    if errors:
        raise ValidationError(errors)
    return (
        {
            "name": name.strip(),
            "audience_data_categories": categories,
            "audience_countries": countries,
            "channels": chosen_channels,
            "send_window_start": send_window_start,
            "send_window_end": send_window_end,
            "fallback_language": fallback,
        },
        versions,
    )


@transaction.atomic
def communication_create(
    *,
    incident_id: int,
    actor: Actor,
    name: str,
    channels: Iterable[str],
    send_window_start: datetime,
    send_window_end: datetime,
    fallback_language: str,
    version_ids: Iterable[int],
    audience_data_categories: Iterable[str] = (),
    audience_countries: Iterable[str] = (),
) -> Communication:
    if not Incident.objects.filter(pk=incident_id).exists():
        raise ValidationError({"incident": f"incident {incident_id} does not exist"})
    fields, versions = communication_fields_clean(
        incident_id=incident_id,
        name=name,
        audience_data_categories=audience_data_categories,
        audience_countries=audience_countries,
        channels=channels,
        send_window_start=send_window_start,
        send_window_end=send_window_end,
        fallback_language=fallback_language,
        version_ids=version_ids,
    )
    communication = Communication.objects.create(
        incident_id=incident_id, created_by=acting_user(actor), **fields
    )
    CommunicationVersion.objects.bulk_create(
        CommunicationVersion(communication=communication, version=v) for v in versions
    )
    timeline_append(
        incident_id=incident_id,
        kind="communication.created",
        actor=actor,
        payload={
            "communication": communication.pk,
            "content_hash": communication_content_hash(communication=communication),
        },
    )
    return communication


@transaction.atomic
def communication_update(
    *,
    communication_id: int,
    actor: Actor,
    name: str,
    channels: Iterable[str],
    send_window_start: datetime,
    send_window_end: datetime,
    fallback_language: str,
    version_ids: Iterable[int],
    audience_data_categories: Iterable[str] = (),
    audience_countries: Iterable[str] = (),
) -> Communication:
    """Change what goes out. Any change voids both sign-offs, saying what changed."""
    communication = Communication.objects.select_for_update().get(pk=communication_id)
    before = communication_content_hash(communication=communication)
    old_versions = set(communication.versions.values_list("pk", flat=True))
    fields, versions = communication_fields_clean(
        incident_id=communication.incident_id,
        name=name,
        audience_data_categories=audience_data_categories,
        audience_countries=audience_countries,
        channels=channels,
        send_window_start=send_window_start,
        send_window_end=send_window_end,
        fallback_language=fallback_language,
        version_ids=version_ids,
    )
    changed = [
        Communication._meta.get_field(name).verbose_name  # type: ignore[union-attr]
        for name, value in fields.items()
        if getattr(communication, name) != value
    ]
    if {v.pk for v in versions} != old_versions:
        changed.append("template versions")
    if not changed:
        return communication
    Communication.objects.filter(pk=communication_id).update(updated_at=timezone.now(), **fields)
    CommunicationVersion.objects.filter(communication_id=communication_id).exclude(
        version__in=versions
    ).delete()
    CommunicationVersion.objects.bulk_create(
        [
            CommunicationVersion(communication_id=communication_id, version=v)
            for v in versions
            if v.pk not in old_versions
        ]
    )
    communication.refresh_from_db()
    after = communication_content_hash(communication=communication)
    timeline_append(
        incident_id=communication.incident_id,
        kind="communication.changed",
        actor=actor,
        payload={
            "communication": communication_id,
            "changed": [str(c) for c in changed],
            "content_hash_before": before,
            "content_hash": after,
        },
    )
    # Any change voids, even one the content hash does not cover (the name): the signers
    # approved the communication as it stood.
    _sign_offs_void(
        communication=communication,
        actor=actor,
        reason=f"Changed after sign-off: {', '.join(str(c) for c in changed)}.",
    )
    if "template versions" in changed:
        from ..reach.callcentre import call_centre_packs_void

        call_centre_packs_void(
            communication_id=communication_id, reason="the notice's template versions changed"
        )
    return communication


def _sign_offs_void(*, communication: Communication, actor: Actor, reason: str) -> int:
    """Void every active sign-off, in the caller's transaction with the row locked."""
    active = communication_active_sign_offs(communication=communication)
    if not active:
        return 0
    voided = CommunicationSignOff.objects.filter(
        pk__in=[s.pk for s in active], voided_at__isnull=True
    ).update(voided_at=timezone.now(), void_reason=reason)
    Communication.objects.filter(pk=communication.pk).update(status=Communication.Status.DRAFT)
    timeline_append(
        incident_id=communication.incident_id,
        kind="communication.sign_offs_voided",
        actor=actor,
        payload={
            "communication": communication.pk,
            "sign_offs": [{"role": s.role, "user": s.user.get_username()} for s in active],
            "reason": reason,
        },
    )
    return voided


@transaction.atomic
def communication_sign_offs_void(*, communication_id: int, actor: Actor | None, reason: str) -> int:
    communication = Communication.objects.select_for_update().get(pk=communication_id)
    return _sign_offs_void(communication=communication, actor=actor, reason=reason)


def _incident_sign_offs_void(*, incident_id: int, actor: Actor | None, reason: str) -> int:
    voided = 0
    for communication_id in Communication.objects.filter(incident_id=incident_id).values_list(
        "pk", flat=True
    ):
        voided += communication_sign_offs_void(
            communication_id=communication_id, actor=actor, reason=reason
        )
    return voided


def communication_sign_offs_void_for_scope(
    *, incident_id: int, actor: Actor | None, added: int, removed: int
) -> int:
    """The affected people changed: what was signed no longer describes who gets what."""
    return _incident_sign_offs_void(
        incident_id=incident_id,
        actor=actor,
        reason=f"The incident's scope changed ({added} added, {removed} removed).",
    )


def communication_sign_offs_void_for_facts(
    *, incident_id: int, actor: Actor | None, changed: Iterable[str]
) -> int:
    """Facts the messages are written with changed: every message now reads differently."""
    rendered = {**INCIDENT_FACTS, **INCIDENT_RENDERED_DATES}
    facts = [label for name, label in rendered.items() if name in set(changed)]
    if "facts_translations" in set(changed):
        facts.append("facts in other languages")
    if not facts:
        return 0
    return _incident_sign_offs_void(
        incident_id=incident_id,
        actor=actor,
        reason=f"The incident's {', '.join(facts)} changed, so the messages read differently.",
    )


def _communication_writers(communication: Communication) -> set[int]:
    """The author, everyone who changed it, and every writer of the versions it sends."""
    editors = TimelineEvent.objects.filter(
        incident_id=communication.incident_id,
        kind="communication.changed",
        payload__communication=communication.pk,
        actor__isnull=False,
    ).values_list("actor_id", flat=True)
    writers = {i for i in [communication.created_by_id, *editors] if i is not None}
    for version in communication.versions.select_related("template"):
        writers |= template_version_writers(version=version)
    return writers


@transaction.atomic
def communication_sign_off(
    *, communication_id: int, actor: Actor, role: str, content_hash: str
) -> CommunicationSignOff:
    """The CMO or the CISO signs exactly the content they saw (`content_hash`).

    Two people, neither the author, one role each; a person in both groups signs once. The
    communication row lock serialises racing sign-offs, and the partial unique constraints
    refuse a second one if anything slips past it.
    """
    signer = sign_off_signer(actor=actor, role=role, what="communications")
    communication = (
        Communication.objects.select_for_update()
        .select_related("incident")
        .get(pk=communication_id)
    )
    if signer.pk in _communication_writers(communication):
        raise TransitionRefused(
            f"{actor} wrote or edited {communication} or its words and cannot sign it off."
        )
    current = communication_content_hash(communication=communication)
    if content_hash != current:
        raise TransitionRefused(f"{communication} changed since it was shown; review it again.")
    blockers = communication_sign_off_blockers(communication=communication)
    if blockers:
        raise TransitionRefused("Cannot sign off yet: " + " ".join(blockers))
    sign_off = sign_off_record(
        model=CommunicationSignOff,
        subject={"communication": communication},
        label=str(communication),
        current=communication_active_sign_offs(communication=communication),
        signer=signer,
        role=role,
        content_hash=current,
    )
    timeline_append(
        incident_id=communication.incident_id,
        kind="communication.signed_off",
        actor=actor,
        payload={"communication": communication.pk, "role": role, "content_hash": current},
    )
    signed_roles = {s.role for s in communication_active_sign_offs(communication=communication)}
    if signed_roles == set(SignOffRole.values):
        Communication.objects.filter(pk=communication.pk, status=Communication.Status.DRAFT).update(
            status=Communication.Status.SIGNED_OFF
        )
        timeline_append(
            incident_id=communication.incident_id,
            kind="communication.approved",
            actor=actor,
            payload={"communication": communication.pk, "content_hash": current},
        )
    return sign_off
