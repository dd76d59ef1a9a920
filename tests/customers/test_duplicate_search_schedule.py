"""The search for duplicates runs daily in the task cluster; the queue says when it last ran."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule
from django_q.scheduler import scheduler

from config import roles
from config.tasks import housekeeping_schedule
from customers.apps import DUPLICATES_SEARCH
from customers.models import DuplicateCandidate, DuplicateSearch
from tests.conftest import wait_until

from .factories import CustomerFactory


def link(page: str, text: str) -> str:
    match = re.search(r'<a href="([^"]+)"[^>]*>\s*' + re.escape(text), page)
    assert match, f"no link {text!r} on the page"
    return match.group(1).replace("&amp;", "&")


@pytest.mark.slow
def test_the_daily_search_runs_in_the_cluster_and_the_queue_shows_when(
    task_cluster, client, make_user
):
    for first in ("Ann", "ann"):
        CustomerFactory.create(
            first_name=first, last_name="Lee", postal_code="LS1 1AA", street="12 High Street"
        )
    housekeeping_schedule()
    schedule = Schedule.objects.get(name=DUPLICATES_SEARCH)
    assert (schedule.schedule_type, schedule.repeats) == (Schedule.DAILY, -1)
    # Today's run is due now. The cluster's scheduler looks every 30 s; one look now, as
    # it would take, queues the due run, and the cluster runs it.
    Schedule.objects.filter(pk=schedule.pk).update(next_run=timezone.now())
    scheduler()
    task_cluster.start(workers=1)

    wait_until(
        DuplicateSearch.objects.filter(finished_at__isnull=False).exists,
        timeout=90,
        message="the daily search did not run",
    )
    search = DuplicateSearch.objects.get()
    assert (search.trigger, search.found) == ("schedule", 1)
    assert DuplicateCandidate.objects.filter(status="pending").count() == 1

    # A marketing operator finds the queue from the customer list and sees its age.
    client.force_login(make_user("mo", roles.MARKETING_OPERATOR))
    customers = client.get(reverse("admin:customers_customer_changelist")).content.decode()
    queue = client.get(link(customers, "Suspected duplicates")).content.decode()
    when = timezone.localtime(search.finished_at).strftime("%H:%M")
    assert "Last search for duplicates:" in queue and when in queue
    assert "(daily schedule), 1 new pair." in queue

    # ...and can search again now, in the cluster.
    confirm_url = link(queue, "Search for duplicates now")
    assert "Search now" in client.get(confirm_url).content.decode()
    client.post(confirm_url)
    wait_until(
        DuplicateSearch.objects.filter(trigger="person", finished_at__isnull=False).exists,
        timeout=90,
        message="the search asked for did not run",
    )
    queue = client.get(link(customers, "Suspected duplicates")).content.decode()
    assert "(started from the review queue), 0 new pairs." in queue


@pytest.mark.django_db
def test_only_those_who_decide_may_start_a_search(client, make_user):
    client.force_login(make_user("cmo", roles.CMO))
    url = reverse("admin:customers_duplicatecandidate_search")
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    assert not DuplicateSearch.objects.exists()
