"""A recovery plan run over simulated weeks (the clock is moved, not waited for), with the
messages received by a real SMTP server on loopback."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from anymail.signals import AnymailTrackingEvent

from campaigns.messages import unsubscribe_url
from customers.models import Customer, Touchpoint
from incidents.models import Incident, TimelineEvent
from notifications.models import Delivery, Notification, RecoveryPlan, RecoveryStep
from notifications.recovery.plans import (
    recovery_plan_consent,
    recovery_plan_create,
    recovery_plan_stop,
    recovery_plans_run,
    recovery_step_add,
)
from notifications.recovery.responses import password_resets_import
from notifications.services.common import TransitionRefused
from notifications.services.delivery import communication_send, delivery_send_batch
from notifications.services.provider_events import (
    delivery_event_row,
    delivery_events_apply,
    delivery_events_store,
)

from .delivery_helpers import signed_off
from .factories import IncidentFactory, affected, approved

pytestmark = pytest.mark.django_db

NOTICE_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def day(n: int, hour: int = 10) -> datetime:
    return NOTICE_AT + timedelta(days=n, hours=hour - 9)


def send_all(delivery: Delivery) -> None:
    for _ in range(50):
        if not delivery_send_batch(delivery_id=delivery.pk).more:
            return
    raise AssertionError("the wave never finished")


def run_plans(smtp_server) -> list[str]:
    """One hourly run of the task, and the waves it started sent; the addresses reached."""
    before = len(smtp_server.messages)
    recovery_plans_run()
    for delivery in Delivery.objects.filter(status=Delivery.Status.SENDING):
        send_all(delivery)
    return sorted(m["X-Envelope-To"] for m in smtp_server.messages[before:])


@pytest.fixture
def world(smtp_server, marketing, cmo, ciso):
    """Five affected people told at NOTICE_AT; a reminder to reset after 7 days for those who
    did not, and an offer 3 days after the notice that waits for the quiet period (14)."""
    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"])
    people = [affected(incident, "en", ["credentials"]) for _ in range(5)]
    notice = signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso)
    reminder = signed_off(
        incident, [version], author=marketing, cmo=cmo, ciso=ciso, name="Reset reminder"
    )
    offer = signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso, name="Offer")
    with time_machine.travel(NOTICE_AT, tick=False):
        send_all(communication_send(communication_id=notice.pk, actor=cmo))
    plan = recovery_plan_create(incident_id=incident.pk, actor=cmo)
    recovery_step_add(
        plan_id=plan.pk,
        actor=cmo,
        name="Reminder: reset your password",
        communication_id=reminder.pk,
        delay_days=7,
        condition=RecoveryStep.Condition.NOT_RESET,
    )
    recovery_step_add(
        plan_id=plan.pk,
        actor=cmo,
        name="An offer",
        communication_id=offer.pk,
        delay_days=3,
        after_quiet_period=True,
    )
    recovery_plan_consent(plan_id=plan.pk, actor=ciso)
    smtp_server.messages.clear()
    return incident, plan, people, reminder, offer


def complaint(notification: Notification, at: datetime) -> None:
    """The provider's webhook says the person marked the message as spam."""
    event = AnymailTrackingEvent(
        event_type="complained",
        timestamp=at,
        recipient=notification.email,
        metadata={"breachdesk": notification.message_id},
    )
    delivery_events_store(
        rows=[delivery_event_row(provider="postmark", event=event, received_at=at)]
    )
    delivery_events_apply()


def test_the_plan_runs_over_weeks_for_those_it_is_meant_for(client, smtp_server, world, marketing):
    incident, _plan, people, reminder, offer = world
    assert Incident.objects.get(pk=incident.pk).people_notified_at == NOTICE_AT
    reset, unsubscriber, complainer, quiet_one, other = people

    with time_machine.travel(day(2), tick=False) as clock:
        # The identity system's file: one person reset their password.
        password_resets_import(
            csv_text=f"customer_id,reset_at\n{reset.pk},{day(2).isoformat()}\n",
            source="identity-export.csv",
            actor=marketing,
        )
        clock.move_to(day(6, hour=23))
        assert run_plans(smtp_server) == []  # a day early: nothing

        clock.move_to(day(7))
        reached = run_plans(smtp_server)
        # The reminder reaches only those who did not act.
        assert reached == sorted(p.email for p in people if p != reset)
        assert Notification.objects.get(
            communication=reminder, customer_id=reset.pk
        ).skip_reason == (Notification.SkipReason.ACTED)
        assert run_plans(smtp_server) == []  # the next hourly run sends nothing twice

        # After step 1, one person unsubscribes (the link in a campaign email) ...
        clock.move_to(day(8))
        token = unsubscribe_url(customer_id=unsubscriber.pk, campaign_id=1)
        assert client.post(token.split("localhost:8000")[1]).status_code == 200
        # ... and another marks the reminder as spam.
        clock.move_to(day(9))
        complaint(
            Notification.objects.get(communication=reminder, customer_id=complainer.pk),
            day(9),
        )

        # The offer is due 3 days after the notice but waits for the quiet period (14 days).
        clock.move_to(day(13, hour=23))
        assert run_plans(smtp_server) == []
        clock.move_to(day(14, hour=9))
        reached = run_plans(smtp_server)

    assert reached == sorted(p.email for p in (reset, quiet_one, other))
    skipped = dict(
        Notification.objects.filter(
            communication=offer, status=Notification.Status.SKIPPED
        ).values_list("customer_id", "skip_reason")
    )
    assert set(skipped) == {unsubscriber.pk, complainer.pk}
    assert Customer.objects.get(pk=complainer.pk).marketing_consent == "withdrawn"
    kinds = list(
        TimelineEvent.objects.filter(incident=incident, kind__startswith="recovery.")
        .order_by("seq")
        .values_list("kind", flat=True)
    )
    assert kinds == [
        "recovery.plan_created",
        "recovery.step_added",
        "recovery.step_added",
        "recovery.plan_consented",
        "recovery.responses_recorded",
        "recovery.step_started",
        "recovery.step_started",
    ]


def test_a_complaint_stops_the_plan_for_that_person_even_with_consent_kept(smtp_server, world):
    """A complaint recorded from a channel that did not withdraw consent still stops it."""
    _incident, _plan, people, reminder, _offer = world
    complainer = people[0]
    Touchpoint.objects.create(
        customer_id=complainer.pk,
        channel=Touchpoint.Channel.PHONE,
        kind=Touchpoint.Kind.COMPLAINED,
        occurred_at=day(1),
        reference="call centre: complained about the notice",
    )
    assert Customer.objects.get(pk=complainer.pk).marketing_consent != "withdrawn"
    with time_machine.travel(day(7), tick=False):
        reached = run_plans(smtp_server)
    assert complainer.email not in reached
    assert len(reached) == 4
    assert (
        Notification.objects.get(communication=reminder, customer_id=complainer.pk).skip_reason
        == Notification.SkipReason.STOPPED
    )


def test_a_step_added_after_consent_waits_for_consent_again(
    smtp_server, world, cmo, ciso, marketing
):
    incident, plan, _people, _reminder, _offer = world
    version = approved(incident, "en", ["credentials"])
    extra = signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso, name="Extra")
    recovery_step_add(
        plan_id=plan.pk, actor=cmo, name="Extra", communication_id=extra.pk, delay_days=1
    )
    plan.refresh_from_db()
    assert plan.status == RecoveryPlan.Status.DRAFT
    with time_machine.travel(day(8), tick=False):
        assert run_plans(smtp_server) == []  # nothing runs without consent
        recovery_plan_consent(plan_id=plan.pk, actor=ciso)
        assert len(run_plans(smtp_server)) == 5 + 5  # the extra step and the reminder


def test_a_stopped_plan_sends_nothing_more(smtp_server, world, ciso):
    _incident, plan, _people, _reminder, _offer = world
    recovery_plan_stop(plan_id=plan.pk, actor=ciso)
    with time_machine.travel(day(30), tick=False):
        assert run_plans(smtp_server) == []


def test_an_unsigned_step_waits_and_says_why(smtp_server, world, cmo, marketing):
    from .delivery_helpers import drafted

    incident, plan, _people, _reminder, _offer = world
    version = approved(incident, "en", ["credentials"])
    draft = drafted(incident, [version], author=marketing, name="Unsigned")
    step = recovery_step_add(
        plan_id=plan.pk, actor=cmo, name="Unsigned", communication_id=draft.pk, delay_days=1
    )
    RecoveryPlan.objects.filter(pk=plan.pk).update(status=RecoveryPlan.Status.ACTIVE)
    with time_machine.travel(day(2), tick=False):
        assert run_plans(smtp_server) == []
    step.refresh_from_db()
    assert step.started_at is None
    assert "not what the CMO and the CISO signed off" in step.waiting_reason


@pytest.mark.parametrize(
    ("who", "message"),
    [("marketing", "Only the CMO"), ("ciso", "Only the CMO")],
)
def test_only_the_cmo_sets_up_a_plan(request, who, message):
    incident = IncidentFactory.create()
    with pytest.raises(TransitionRefused, match=message):
        recovery_plan_create(incident_id=incident.pk, actor=request.getfixturevalue(who))


def test_consent_is_the_ciso_s_and_another_person_s(world, cmo, make_user):
    from config import roles

    _incident, plan, _people, _reminder, _offer = world
    RecoveryPlan.objects.filter(pk=plan.pk).update(status=RecoveryPlan.Status.DRAFT)
    with pytest.raises(TransitionRefused, match="Only the CISO"):
        recovery_plan_consent(plan_id=plan.pk, actor=cmo)
    both = make_user("both", roles.CMO, roles.CISO)
    RecoveryPlan.objects.filter(pk=plan.pk).update(created_by=both)
    with pytest.raises(TransitionRefused, match="another person"):
        recovery_plan_consent(plan_id=plan.pk, actor=both)


def test_a_step_needs_a_message_of_its_incident_not_yet_sent(world, cmo, ciso, marketing):
    incident, plan, _people, _reminder, _offer = world
    other = IncidentFactory.create()
    affected(other, "en", ["credentials"])
    foreign = signed_off(
        other,
        [approved(other, "en", ["credentials"])],
        author=marketing,
        cmo=cmo,
        ciso=ciso,
    )
    with pytest.raises(TransitionRefused, match="another incident"):
        recovery_step_add(
            plan_id=plan.pk, actor=cmo, name="x", communication_id=foreign.pk, delay_days=1
        )
    sent = Delivery.objects.get(communication__incident=incident, kind="breach_notice")
    with pytest.raises(TransitionRefused, match="sent already"):
        recovery_step_add(
            plan_id=plan.pk,
            actor=cmo,
            name="x",
            communication_id=sent.communication_id,
            delay_days=1,
        )
