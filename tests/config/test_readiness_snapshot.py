"""The daily readiness snapshot is taken by a real task cluster, as its schedule runs it;
the customer figures the page reads are recounted when many customers change."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ, Schedule
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from config.readiness.apps import READINESS_SNAPSHOT
from config.readiness.models import CustomerFigures, ReadinessSnapshot
from config.readiness.services import customer_figures_refresh
from config.readiness.tasks import customer_figures_refresh_task
from config.tasks import housekeeping_schedule
from customers.models import Customer, DuplicateCandidate
from customers.services import customer_merge
from customers.services.contact_quality import customers_mark_email_status
from tests.conftest import wait_until
from tests.customers.factories import CustomerFactory


@pytest.mark.slow
def test_the_task_cluster_takes_the_days_snapshot(task_cluster):
    CustomerFactory.create(email="", email_status="missing", street="")
    CustomerFactory.create_batch(3, street="Hauptstr. 1", city="Berlin")
    housekeeping_schedule()
    func = Schedule.objects.get(name=READINESS_SNAPSHOT).func
    task_cluster.start(workers=1)

    async_task(func)

    wait_until(ReadinessSnapshot.objects.exists, timeout=60, message="no snapshot was taken")
    snapshot = ReadinessSnapshot.objects.get()
    assert snapshot.day == timezone.localdate()
    unreachable = snapshot.figures["dimensions"]["reachable"]["checks"]["unreachable"]
    assert unreachable["figure"] == "25.0% (1 of 4)"


@pytest.mark.slow
def test_a_bounce_has_the_task_cluster_recount_the_customer_figures(task_cluster):
    people = CustomerFactory.create_batch(4, street="Hauptstr. 1", city="Berlin")
    assert _valid_emails(customer_figures_refresh()) == 4
    task_cluster.start(workers=1)

    customers_mark_email_status(customer_ids=[people[0].pk], status=Customer.EmailStatus.BOUNCED)

    wait_until(
        lambda: _valid_emails(CustomerFigures.objects.get()) == 3,
        timeout=60,
        message="the bounce was not recounted",
    )


def _valid_emails(figures: CustomerFigures) -> int:
    return sum(entry[4] for entry in figures.reach)


@pytest.mark.django_db
def test_a_recount_queued_by_a_change_is_skipped_when_one_began_after_it(
    django_capture_on_commit_callbacks,
):
    person = CustomerFactory.create()
    with django_capture_on_commit_callbacks(execute=True):
        customers_mark_email_status(customer_ids=[person.pk], status=Customer.EmailStatus.BOUNCED)
    (queued,) = OrmQ.objects.all()
    task = SignedPackage.loads(queued.payload)
    assert task["func"] == "config.readiness.tasks.customer_figures_refresh_task"

    # A scheduled recount ran after the change committed: the queued one has nothing to do.
    customer_figures_refresh()
    assert "already counted" in customer_figures_refresh_task(*task["args"])
    # One queued before the last recount began still counts.
    before = int(CustomerFigures.objects.get().computed_at.timestamp() * 1_000_000) + 1
    assert "as of" in customer_figures_refresh_task(before)


@pytest.mark.django_db
def test_a_merge_queues_a_recount(django_capture_on_commit_callbacks, admin_user):
    first, second = CustomerFactory.create_batch(2, last_name="Twin")
    pair = DuplicateCandidate.objects.create(
        customer_a=first, customer_b=second, reason="name_postal", score=0.9
    )
    with django_capture_on_commit_callbacks(execute=True):
        customer_merge(candidate=pair, survivor=first, by=admin_user)
    funcs = [SignedPackage.loads(q.payload)["func"] for q in OrmQ.objects.all()]
    assert "config.readiness.tasks.customer_figures_refresh_task" in funcs


@pytest.mark.django_db
def test_a_recount_that_began_first_does_not_put_older_figures_back():
    CustomerFactory.create()
    first = customer_figures_refresh()
    # As if a recount that began after this next one had already written its figures.
    later = first.computed_at + timedelta(hours=1)
    CustomerFigures.objects.filter(pk=1).update(computed_at=later, reach=[])
    kept = customer_figures_refresh()
    assert (kept.computed_at, kept.reach) == (later, [])
