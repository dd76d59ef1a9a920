"""Nobody approves or signs words they wrote: the author and every editor are writers,
and every edit is on the timeline."""

from typing import Any

import pytest

from config import roles
from incidents.models import TimelineEvent
from notifications import services
from notifications.selectors import communication_content_hash
from notifications.services import TransitionRefused

from .delivery_helpers import drafted
from .factories import IncidentFactory, affected, approved, bodies_for
from .test_template_review import approve, draft

pytestmark = pytest.mark.django_db


def _fields(subject: str) -> dict[str, Any]:
    return {
        "channel": "email",
        "language": "en",
        "data_categories": ["credentials"],
        "subject": subject,
        **bodies_for(["credentials"]),
    }


def test_a_legal_reviewer_who_edited_a_colleagues_draft_cannot_approve_it(marketing, make_user):
    both = make_user("lex", roles.LEGAL_REVIEWER, roles.MARKETING_OPERATOR)
    version = draft(marketing)

    services.template_version_update(version_id=version.pk, actor=both, **_fields("Mine now"))
    version = services.template_version_submit(version_id=version.pk, actor=marketing)

    with pytest.raises(TransitionRefused, match="wrote or edited"):
        approve(version, both)
    edit = TimelineEvent.objects.get(kind="template_version.edited")
    assert (edit.actor, edit.payload["version"]) == (both, version.pk)


def test_a_cmo_who_edited_the_words_or_the_communication_cannot_sign_it(
    marketing, legal, make_user
):
    incident = IncidentFactory.create()
    cmo = make_user("carla", roles.CMO, roles.MARKETING_OPERATOR)
    version = draft(marketing, incident)
    services.template_version_update(version_id=version.pk, actor=cmo, **_fields("By the CMO"))
    version = services.template_version_submit(version_id=version.pk, actor=marketing)
    version = approve(version, legal)
    affected(incident, "en", ["credentials"])
    communication = drafted(incident, [version], author=marketing)

    with pytest.raises(TransitionRefused, match="wrote or edited"):
        services.communication_sign_off(
            communication_id=communication.pk,
            actor=cmo,
            role="CMO",
            content_hash=communication_content_hash(communication=communication),
        )


def test_a_signer_who_changed_the_communication_cannot_sign_it(marketing, make_user):
    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"])
    affected(incident, "en", ["credentials"])
    communication = drafted(incident, [version], author=marketing)
    ciso = make_user("sven", roles.CISO)
    services.communication_update(
        communication_id=communication.pk,
        actor=ciso,
        name="Renamed by the CISO",
        channels=["email"],
        send_window_start=communication.send_window_start,
        send_window_end=communication.send_window_end,
        fallback_language="en",
        version_ids=[version.pk],
    )

    with pytest.raises(TransitionRefused, match="wrote or edited"):
        services.communication_sign_off(
            communication_id=communication.pk,
            actor=ciso,
            role="CISO",
            content_hash=communication_content_hash(communication=communication),
        )
