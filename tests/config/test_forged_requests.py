"""Requests a browser would never send change nothing: a read-only field posted anyway,
an action the role is not offered, another incident's object in a custom view's form."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.forms import MultiWidget
from django.urls import reverse

from campaigns.models import Campaign, CampaignHold
from campaigns.services import campaign_start
from config import roles
from incidents.models import TimelineEvent
from tests.campaigns.factories import CampaignFactory, segment_with
from tests.conftest import kept_for_the_module

from .world import World, world_build

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[World]:
    with kept_for_the_module(django_db_blocker):
        yield world_build()


def change_form_data(client, url: str) -> dict[str, Any]:
    """What the change form would post as it stands (the user changes nothing)."""
    response = client.get(url)
    assert response.status_code == 200
    form = response.context["adminform"].form
    data: dict[str, Any] = {}
    for name in form.fields:
        bound = form[name]
        value, widget = bound.value(), bound.field.widget
        if isinstance(widget, MultiWidget):
            for i, (part, sub) in enumerate(
                zip(widget.decompress(value) or [], widget.widgets, strict=False)
            ):
                data[f"{name}_{i}"] = sub.format_value(part) or ""
        elif isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        elif value is True:
            data[name] = "on"
        elif value not in (None, False):
            data[name] = str(value)
    for formset in response.context.get("inline_admin_formsets", []):
        management = formset.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
    return data


@pytest.mark.parametrize(
    ("role", "url_name", "obj", "forged"),
    [
        (roles.CISO, "incidents_incident_change", "incident", {"status": "closed"}),
        (
            roles.MARKETING_OPERATOR,
            "campaigns_campaign_change",
            "draft_campaign",
            {"status": "sending"},
        ),
        (
            roles.MARKETING_OPERATOR,
            "notifications_templateversion_change",
            "draft",
            {"status": "approved", "reviewed_by": "1"},
        ),
    ],
)
def test_a_read_only_field_posted_anyway_changes_nothing(
    client, make_user, world, role, url_name, obj, forged
):
    if obj == "draft_campaign":
        target: Any = CampaignFactory.create(segments=[segment_with([world.canary.customer])])
    else:
        target = getattr(world, obj)
    before = {name: getattr(type(target).objects.get(pk=target.pk), name) for name in forged}
    client.force_login(make_user("forger", role))
    url = reverse(f"admin:{url_name}", args=[target.pk])
    data = change_form_data(client, url) | forged

    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    after = {name: getattr(type(target).objects.get(pk=target.pk), name) for name in forged}
    assert after == before


@pytest.mark.parametrize(
    ("role", "changelist", "action", "state"),
    [
        (roles.AUDITOR, "incidents_incident_changelist", "close", "incident"),
        (roles.DPO, "incidents_incident_changelist", "start_assessing", "incident"),
        (roles.MARKETING_OPERATOR, "campaigns_campaign_changelist", "resume", "campaign"),
        (roles.SECURITY_ANALYST, "campaigns_campaignhold_changelist", "release", "hold"),
        (roles.CISO, "notifications_templateversion_changelist", "submit_for_review", "draft"),
    ],
)
def test_an_action_posted_by_a_role_not_offered_it_changes_nothing(
    client, make_user, world, role, changelist, action, state
):
    paused = CampaignFactory.create(segments=[segment_with([world.canary.customer])])
    campaign_start(campaign_id=paused.pk, actor=None)
    Campaign.objects.filter(pk=paused.pk).update(status=Campaign.Status.PAUSED)
    objects = {
        "incident": world.incident,
        "campaign": paused,
        "hold": CampaignHold.objects.get(incident=world.incident),
        "draft": world.draft,
    }
    target = objects[state]

    def snapshot() -> tuple[Any, ...]:
        fresh = type(target).objects.get(pk=target.pk)
        return (
            getattr(fresh, "status", None),
            getattr(fresh, "released_at", None),
            TimelineEvent.objects.count(),
        )

    before = snapshot()
    client.force_login(make_user("forger", role))

    response = client.post(
        reverse(f"admin:{changelist}"),
        {"action": action, "_selected_action": [target.pk], "index": "0"},
    )

    assert response.status_code in (200, 302, 403)
    assert snapshot() == before


def test_another_incidents_id_in_the_overlap_form_pauses_nothing(client, make_user, world):
    running = CampaignFactory.create(segments=[segment_with([world.canary.customer])])
    campaign_start(campaign_id=running.pk, actor=None)
    client.force_login(make_user("cmo", roles.CMO))

    # The campaign overlaps world.incident's scope, not other_incident's.
    response = client.post(
        reverse("admin:campaigns_campaign_overlap", args=[world.other_incident.pk]),
        {"campaign": [str(running.pk)], "confirm": "yes"},
        follow=True,
    )

    running.refresh_from_db()
    assert running.status == Campaign.Status.SENDING and running.paused_by_incident is None
    assert "reach nobody affected by incident" in response.content.decode()
    assert not TimelineEvent.objects.filter(
        incident=world.other_incident, kind__icontains="pause"
    ).exists()


def test_the_overlap_form_still_pauses_a_campaign_of_its_own_incident(client, make_user, world):
    running = CampaignFactory.create(segments=[segment_with([world.canary.customer])])
    campaign_start(campaign_id=running.pk, actor=None)
    client.force_login(make_user("cmo", roles.CMO))

    client.post(
        reverse("admin:campaigns_campaign_overlap", args=[world.incident.pk]),
        {"campaign": [str(running.pk)], "confirm": "yes"},
    )

    running.refresh_from_db()
    assert running.status == Campaign.Status.PAUSED
    assert running.paused_by_incident_id == world.incident.pk
