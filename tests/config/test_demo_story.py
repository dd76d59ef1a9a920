"""`seed_demo` tells the story: customers from the CRM samples, campaigns running, and one
breach half-way, whatever number of times it runs."""

import json

import pytest
from django.core.management import call_command

from campaigns.models import Campaign
from config.demo_story import DATA, STORY_TITLE
from customers.models import Customer, ImportJob
from incidents.models import Incident
from notifications.models import Communication, TemplateVersion

pytestmark = pytest.mark.django_db
TRUTH = json.loads((DATA / "truth.json").read_text(encoding="utf-8"))


def _state() -> tuple:
    return (
        Customer.objects.count(),
        ImportJob.objects.count(),
        sorted(Campaign.objects.values_list("name", "status")),
        Incident.objects.count(),
        TemplateVersion.objects.count(),
        Communication.objects.count(),
    )


def test_the_demo_tells_the_story_and_a_second_run_changes_nothing(settings):
    settings.DEBUG = True
    settings.COMPANY_EU_ESTABLISHMENT = True
    call_command("seed_demo")
    first = _state()
    call_command("seed_demo")

    assert Customer.objects.count() == TRUTH["after_all"]["customers"]
    incident = Incident.objects.get(title=STORY_TITLE)
    assert not incident.is_drill
    assert incident.affected.count() == TRUTH["affected_accounts.csv"]["matched"]
    assert incident.forensic_lists.get().unmatched == TRUTH["affected_accounts.csv"]["unmatched"]
    newsletter = Campaign.objects.get(name="Black Friday newsletter (demo)")
    assert (newsletter.status, newsletter.paused_by_incident) == (Campaign.Status.PAUSED, incident)
    assert Campaign.objects.get(name="Loyalty points reminder (demo)").status == "sending"
    statuses = dict(
        TemplateVersion.objects.filter(template__incident=incident).values_list(
            "language", "status"
        )
    )
    assert statuses == {"en": "approved", "de": "submitted"}
    assert incident.communications.get().status == Communication.Status.DRAFT
    assert incident.obligations.filter(due_at__lt=incident.updated_at, status="open").exists()
    assert _state()[:1] + _state()[2:] == first[:1] + first[2:]
    assert ImportJob.objects.count() == len(TRUTH["order"])
