"""Each role finds its own sections first, and only the sections it may use."""

import pytest
from django.contrib import admin
from django.urls import reverse

from config import roles
from config.admin_site import BreachdeskAdminSite

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("role", "sections"),
    [
        (
            roles.CMO,
            ["campaigns", "notifications", "incidents", "customers", "config", "readiness"],
        ),
        (
            roles.CISO,
            ["incidents", "notifications", "campaigns", "customers", "config", "readiness"],
        ),
        (
            roles.DPO,
            ["incidents", "notifications", "campaigns", "customers", "config", "readiness"],
        ),
        (roles.LEGAL_REVIEWER, ["notifications", "incidents", "config"]),
        (
            roles.MARKETING_OPERATOR,
            ["campaigns", "customers", "notifications", "incidents", "config"],
        ),
        (
            roles.SECURITY_ANALYST,
            ["incidents", "customers", "notifications", "campaigns", "config"],
        ),
        (
            roles.AUDITOR,
            ["incidents", "notifications", "campaigns", "customers", "config", "readiness"],
        ),
    ],
)
def test_the_index_lists_a_roles_sections_in_the_order_of_its_work(
    client, make_user, role, sections
):
    client.force_login(make_user("someone", role))

    response = client.get(reverse("admin:index"))

    assert [app["app_label"] for app in response.context["app_list"]] == sections


def test_the_project_admin_site_is_the_default_one():
    assert isinstance(admin.site._wrapped, BreachdeskAdminSite)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("role", "changelist", "lookup"),
    [
        (roles.CMO, "campaigns_campaign", "paused_by_incident__id__exact"),
        (roles.CISO, "notifications_communication", "incident__id__exact"),
        (roles.LEGAL_REVIEWER, "notifications_templateversion", "template__incident__id__exact"),
        (roles.DPO, "incidents_obligation", "incident__id__exact"),
    ],
)
def test_long_lists_filter_by_incident(client, make_user, role, changelist, lookup):
    from tests.campaigns.factories import IncidentFactory

    incident = IncidentFactory.create()
    client.force_login(make_user("someone", role))

    response = client.get(reverse(f"admin:{changelist}_changelist"), {lookup: incident.pk})

    # An unknown lookup would redirect to "?e=1"; an allowed one lists (nothing, here).
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0
