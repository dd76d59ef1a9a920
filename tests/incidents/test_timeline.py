"""The timeline as evidence: serialised appends, append-only storage, tamper detection."""

import threading
from datetime import timedelta
from itertools import pairwise

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from incidents.models import TimelineEvent
from incidents.selectors import timeline_verify
from incidents.services import GENESIS_HASH, timeline_append

from .factories import IncidentFactory

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only"
)


# Any declared kind will do: the timeline refuses an undeclared one.
NOTE = "incident.updated"
WRITERS = {"a": "incident.updated", "b": "obligation.clock"}


def append(incident, n=1, kind=NOTE):
    for i in range(n):
        timeline_append(incident_id=incident.pk, kind=kind, actor=None, payload={"i": i})


@pytest.mark.django_db(transaction=True)
def test_two_writers_appending_at_once_leave_one_contiguous_valid_chain():
    incident = IncidentFactory.create()
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(name):
        try:
            start.wait()
            for i in range(25):
                with transaction.atomic():
                    timeline_append(
                        incident_id=incident.pk, kind=WRITERS[name], actor=None, payload={"i": i}
                    )
        except BaseException as error:
            errors.append(error)
        finally:
            # Each thread has its own connection; close it so the test database can go.
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    events = list(TimelineEvent.objects.filter(incident=incident).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, 51))
    assert events[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in pairwise(events))
    assert {e.kind for e in events} == set(WRITERS.values())
    check = timeline_verify(incident_id=incident.pk)
    assert (check.ok, check.events, check.head_hash) == (True, 50, events[-1].hash)


@postgres_only
@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE incidents_timelineevent SET kind = 'edited' WHERE incident_id = %s",
        "DELETE FROM incidents_timelineevent WHERE incident_id = %s",
    ],
)
def test_the_database_refuses_to_change_or_remove_timeline_rows(statement):
    incident = IncidentFactory.create()
    append(incident, 2)

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [incident.pk])

    assert list(incident.timeline.values_list("kind", flat=True)) == [NOTE, NOTE]


@postgres_only
@pytest.mark.django_db
def test_deleting_a_user_keeps_their_events_and_the_chain(make_user):
    incident = IncidentFactory.create()
    user = make_user("leaver")
    timeline_append(incident_id=incident.pk, kind=NOTE, actor=user)

    get_user_model().objects.filter(pk=user.pk).delete()

    event = incident.timeline.get()
    assert (event.actor, event.actor_label) == (None, "leaver")
    assert timeline_verify(incident_id=incident.pk).ok


def tamper(sql, params):
    """Edit the table behind the service's back, as someone with database access could."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")


@pytest.mark.django_db
def test_a_tampered_payload_is_found_at_its_sequence_number():
    incident = IncidentFactory.create()
    append(incident, 5)
    tamper(
        "UPDATE incidents_timelineevent SET payload = %s WHERE incident_id = %s AND seq = 3",
        ['{"i": 99}', incident.pk],
    )

    check = timeline_verify(incident_id=incident.pk)

    assert (check.ok, check.first_broken_seq) == (False, 3)
    assert check.problem == "its content does not match its keyed hash"
    with pytest.raises(CommandError, match="breaks at seq 3"):
        call_command("verify_timeline", str(incident.pk))


@pytest.mark.django_db
def test_a_removed_event_is_found_where_the_sequence_jumps():
    incident = IncidentFactory.create()
    append(incident, 4)
    tamper("DELETE FROM incidents_timelineevent WHERE incident_id = %s AND seq = 2", [incident.pk])

    check = timeline_verify(incident_id=incident.pk)

    assert (check.first_broken_seq, check.problem) == (2, "sequence jumps from 1 to 3")


@pytest.mark.django_db
def test_a_rehashed_event_still_breaks_the_link_to_the_next(capsys):
    incident = IncidentFactory.create()
    append(incident, 3)
    tamper(
        "UPDATE incidents_timelineevent SET hash = %s WHERE incident_id = %s AND seq = 2",
        ["f" * 64, incident.pk],
    )

    assert timeline_verify(incident_id=incident.pk).first_broken_seq == 2


@pytest.mark.django_db
def test_verify_timeline_prints_the_head_of_an_intact_chain(capsys):
    incident = IncidentFactory.create()
    append(incident, 3)

    call_command("verify_timeline", str(incident.pk))

    head = incident.timeline.latest("seq").hash
    assert f"3 events, chain intact, head {head}" in capsys.readouterr().out
    with pytest.raises(CommandError, match="does not exist"):
        call_command("verify_timeline", "0")


@postgres_only
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("seq_offset", "prev", "days_ago", "refusal"),
    [
        # An old event slipped in at the head, with the right link but last week's time.
        (1, "head", 7, "is earlier than"),
        # A forged event in the middle of the chain, or one not linked to the head.
        (0, "head", 0, "does not follow"),
        (1, "genesis", 0, "does not follow"),
    ],
)
def test_the_database_refuses_an_event_that_is_not_the_next_link(
    seq_offset, prev, days_ago, refusal
):
    incident = IncidentFactory.create()
    append(incident, 2)
    head = incident.timeline.order_by("-seq").first()
    assert head is not None
    prev_hash = head.hash if prev == "head" else GENESIS_HASH

    with (
        pytest.raises(DatabaseError, match=refusal),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO incidents_timelineevent (incident_id, seq, occurred_at, actor_label, "
            "kind, payload, prev_hash, hash) VALUES (%s, %s, %s, 'x', 'forged', '{}', %s, %s)",
            [
                incident.pk,
                head.seq + seq_offset,
                timezone.now() - timedelta(days=days_ago),
                prev_hash,
                "f" * 64,
            ],
        )

    assert incident.timeline.count() == 2


@pytest.mark.django_db
def test_an_event_is_never_dated_before_the_one_it_follows():
    incident = IncidentFactory.create()
    append(incident, 1)
    head = incident.timeline.get()
    ahead = head.occurred_at + timedelta(hours=1)
    # The head as a machine whose clock runs an hour ahead wrote it.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "UPDATE incidents_timelineevent SET occurred_at = %s WHERE id = %s", [ahead, head.pk]
        )
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")

    append(incident, 1)

    latest = incident.timeline.order_by("-seq").first()
    assert latest is not None and latest.occurred_at == ahead
