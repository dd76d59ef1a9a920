"""A large scope's counts are kept, not counted per page: they follow every scope change in
its transaction, the task cluster counts them again from the customer records, and the
incident room says when. Here "large" is lowered to three people."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from config import roles
from incidents.models import ScopeFigures
from incidents.selectors import scope_summary
from incidents.services import incident_open, scope_set
from incidents.services.scope_figures import scope_figures_count
from incidents.tasks import scope_figures_recount_task
from tests.campaigns.factories import scope_write, segment_with
from tests.conftest import wait_until
from tests.incidents.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def large_from_three(settings):
    settings.KEPT_FIGURES_FROM = 3
    settings.COMPANY_EU_ESTABLISHMENT = True


def people(*countries: str, language: str = "en") -> list:
    return [CustomerFactory.create(country=c, language=language) for c in countries]


def live(incident_id: int, settings) -> tuple:
    """The same summary counted from the rows, as the evidence pack counts it."""
    summary = scope_summary(incident_id=incident_id, live=True)
    assert summary.counted_at is None
    return summary.total, summary.by_country, summary.by_category


def kept(incident_id: int) -> tuple:
    summary = scope_summary(incident_id=incident_id)
    assert summary.counted_at is not None, "the kept figures were not read"
    return summary.total, summary.by_country, summary.by_category


@pytest.fixture
def incident(large_from_three):
    return incident_open(
        actor=None,
        title="Backup stolen",
        nature="n",
        awareness_at=timezone.now() - timedelta(hours=3),
        data_categories=["contact"],
    )


def test_a_large_scope_is_counted_once_and_then_follows_each_addition(
    incident, settings, django_capture_on_commit_callbacks
):
    first = people("DE", "DE", "FR", "US")
    with django_capture_on_commit_callbacks() as callbacks:
        scope_write(incident, first)
    # The count is the task cluster's, asked for once the scope is committed.
    assert len(callbacks) == 1 and not ScopeFigures.objects.filter(incident=incident).exists()
    scope_figures_count(incident_id=incident.pk)
    assert kept(incident.pk) == live(incident.pk, settings)
    assert kept(incident.pk)[0] == 4

    # An addition (some already in the scope) changes the kept counts in its transaction.
    more = people("GB", "GB", language="de")
    segment = segment_with([*more, first[0]])
    with django_capture_on_commit_callbacks() as callbacks:
        change = scope_set(
            incident_id=incident.pk,
            actor=None,
            segment_ids=[segment.pk],
            data_categories=["contact", "credentials"],
            replace=False,
        )
    assert change.added == 2 and change.total == 6
    assert not callbacks, "an addition needs no recount"
    assert kept(incident.pk) == live(incident.pk, settings)
    assert dict(kept(incident.pk)[1]) == {"DE": 2, "FR": 1, "US": 1, "GB": 2}


def test_a_replacement_drops_the_kept_counts_until_the_cluster_counts_again(
    incident, settings, django_capture_on_commit_callbacks
):
    scope_write(incident, people("DE", "DE", "FR", "US"))
    scope_figures_count(incident_id=incident.pk)
    only = people("IT", "IT", "IT")
    with django_capture_on_commit_callbacks() as callbacks:
        scope_set(incident_id=incident.pk, actor=None, segment_ids=[segment_with(only).pk])
    assert len(callbacks) == 1
    assert scope_summary(incident_id=incident.pk).counted_at is None
    assert scope_summary(incident_id=incident.pk).by_country == [("IT", 3)]
    scope_figures_count(incident_id=incident.pk)
    assert kept(incident.pk) == (3, [("IT", 3)], [("Contact details", 3)])


def test_a_scope_shrunk_below_the_threshold_is_counted_live_again(incident, settings):
    scope_write(incident, people("DE", "DE", "FR"))
    scope_figures_count(incident_id=incident.pk)
    assert ScopeFigures.objects.filter(incident=incident).exists()
    scope_set(incident_id=incident.pk, actor=None, segment_ids=[segment_with(people("AT")).pk])
    scope_figures_count(incident_id=incident.pk)
    assert not ScopeFigures.objects.filter(incident=incident).exists()
    assert scope_summary(incident_id=incident.pk).by_country == [("AT", 1)]


def test_the_schedule_recounts_a_customer_who_moved_and_the_room_says_when(
    incident, settings, client, make_user
):
    moving, *others = people("DE", "DE", "FR")
    scope_write(incident, [moving, *others])
    scope_figures_count(incident_id=incident.pk)
    moving.country = "AT"
    moving.save()
    # Until the cluster counts again the kept figures stand, and say when they were counted.
    assert dict(kept(incident.pk)[1]) == {"DE": 2, "FR": 1}
    assert scope_figures_recount_task() == 1
    assert dict(kept(incident.pk)[1]) == {"DE": 1, "FR": 1, "AT": 1}

    client.force_login(make_user("ciso", roles.CISO))
    html = client.get(reverse("admin:incidents_incident_change", args=[incident.pk])).content
    page = html.decode()
    assert "Scope: 3 affected customers" in page
    assert "as the task cluster counted them from the customer records at" in page
    assert "<li>AT: 1</li>" in page


@pytest.mark.slow
def test_the_task_cluster_counts_a_replaced_scope_after_its_commit(task_cluster, settings):
    settings.KEPT_FIGURES_FROM = 3
    incident = incident_open(
        actor=None,
        title="Large",
        nature="n",
        awareness_at=timezone.now(),
        data_categories=["contact"],
    )
    task_cluster.start(workers=1, KEPT_FIGURES_FROM="3")
    scope_set(
        incident_id=incident.pk, actor=None, segment_ids=[segment_with(people("DE", "FR", "FR")).pk]
    )
    wait_until(
        lambda: ScopeFigures.objects.filter(incident=incident).exists(),
        timeout=60,
        message="the cluster never counted the scope",
    )
    assert kept(incident.pk) == (3, [("FR", 2), ("DE", 1)], [("Contact details", 3)])


def test_the_unreached_of_a_large_scope_are_counted_by_the_cluster_for_the_room(
    incident, client, make_user
):
    from notifications.reach.unreached import unreached_counts, unreached_counts_kept
    from notifications.tasks import wave_figures_count_task

    found = people("DE", "DE", "FR")
    for person in found[1:]:
        person.email, person.email_status, person.street = "", "missing", ""
        person.save()
    scope_write(incident, found)
    scope_figures_count(incident_id=incident.pk)
    wave_figures_count_task()

    kept_counts = unreached_counts_kept(incident_id=incident.pk)
    assert kept_counts.counted_at is not None
    assert kept_counts.total == unreached_counts(incident_id=incident.pk).total == 2
    client.force_login(make_user("dpo", roles.DPO))
    page = client.get(reverse("admin:incidents_incident_change", args=[incident.pk])).content
    assert "the unreached as the task cluster counted them at" in page.decode()
