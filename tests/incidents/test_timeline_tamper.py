"""Tamper evidence the application's own database role cannot defeat.

The web and task processes connect as a runtime role that owns no table. Attacked as that
role (a real login, its own connection), every way to rewrite the timeline either fails in
the database or is reported by `verify_timeline` and by a new evidence pack. What only the
owner could do (disable the guards, delete a tail, re-hash the chain) is reported too: the
chain is keyed with a secret the database does not hold, and its heads are checkpointed
outside the database.
"""

import hashlib
import importlib
import io
import json
import os
import secrets
import subprocess
import sys
from datetime import timedelta

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from pypdf import PdfReader

from incidents.evidence.services import evidence_pack_render
from incidents.selectors import timeline_verify
from incidents.services import timeline_append, timeline_canonical
from incidents.services.checkpoints import checkpoints_read, timeline_checkpoint_write
from tests.conftest import ROOT

from .factories import IncidentFactory

NOTE = "incident.updated"
GENESIS = "0" * 64

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="database roles and triggers: PostgreSQL only"
)


def append(incident, n):
    for i in range(n):
        timeline_append(incident_id=incident.pk, kind=NOTE, actor=None, payload={"i": i})


def unkeyed_hash(incident_id, seq, occurred_at, prev_hash, payload):
    """What someone without the timeline key computes: the plain SHA-256 of the event."""
    return hashlib.sha256(
        timeline_canonical(
            incident_id=incident_id,
            seq=seq,
            occurred_at=occurred_at,
            actor_label="system",
            kind=NOTE,
            payload=payload,
            prev_hash=prev_hash,
        )
    ).hexdigest()


def pack_first_page(incident_id) -> str:
    rendered = evidence_pack_render(incident_id=incident_id)
    first = PdfReader(io.BytesIO(rendered.pdf)).pages[0].extract_text()
    return " ".join(first.split())


def as_owner_behind_the_guards(sql, params):
    """What only the tables' owner (or a superuser) can do: write with the triggers off."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)


@pytest.fixture
def runtime_role(transactional_db, monkeypatch):
    """A real login role created the way production creates it (`db_runtime_role
    --create`) on this test database; dropped afterwards."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
        )
        if not cursor.fetchone()[0]:
            pytest.skip("DATABASE_URL's role may not create roles (CI connects as postgres)")
    role = f"{connection.settings_dict['NAME']}_runtime"[:63]
    password = secrets.token_urlsafe(16)

    def drop():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone():
                cursor.execute(f'DROP OWNED BY "{role}"')
                cursor.execute(f'DROP ROLE "{role}"')

    drop()
    monkeypatch.setenv("DATABASE_RUNTIME_PASSWORD", password)
    call_command("db_runtime_role", role, "--create")
    yield role, password
    drop()


@postgres_only
@pytest.mark.django_db
def test_a_role_name_that_is_not_plain_is_refused():
    with pytest.raises(CommandError, match="not a plain role name"):
        call_command("db_runtime_role", 'app"; DROP TABLE x; --', "--create")


@pytest.fixture
def attacker(runtime_role):
    role, password = runtime_role
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        dbname=db["NAME"],
        user=role,
        password=password,
        autocommit=True,
    ) as conn:
        yield conn


REFUSED = {
    "disable every trigger": "ALTER TABLE incidents_timelineevent DISABLE TRIGGER ALL",
    "disable the append-only trigger": (
        "ALTER TABLE incidents_timelineevent DISABLE TRIGGER incidents_timelineevent_append_only"
    ),
    "drop the in-order trigger": (
        "DROP TRIGGER incidents_timelineevent_in_order ON incidents_timelineevent"
    ),
    "replace the trigger function": (
        "CREATE OR REPLACE FUNCTION incidents_timelineevent_append_only() RETURNS trigger "
        "AS $$ BEGIN RETURN NEW; END; $$ LANGUAGE plpgsql"
    ),
    "turn triggers off for the session": "SET session_replication_role = replica",
    "delete the tail": "DELETE FROM incidents_timelineevent WHERE incident_id = {pk} AND seq = 3",
    "truncate": "TRUNCATE incidents_timelineevent CASCADE",
    "re-hash an event": (
        "UPDATE incidents_timelineevent SET payload = '{{\"i\": 99}}', hash = repeat('f', 64) "
        "WHERE incident_id = {pk} AND seq = 2"
    ),
    "re-date an event": (
        "UPDATE incidents_timelineevent SET occurred_at = occurred_at - interval '1 day' "
        "WHERE incident_id = {pk} AND seq = 1"
    ),
    "delete the incident": "DELETE FROM incidents_incident WHERE id = {pk}",
    "take the table over": "ALTER TABLE incidents_timelineevent OWNER TO CURRENT_USER",
}


@postgres_only
@pytest.mark.parametrize("attack", sorted(REFUSED))
def test_the_runtime_role_cannot_rewrite_the_timeline(attack, attacker):
    incident = IncidentFactory.create()
    append(incident, 3)
    before = timeline_verify(incident_id=incident.pk)

    with pytest.raises(psycopg.Error):
        attacker.execute(REFUSED[attack].format(pk=incident.pk))

    after = timeline_verify(incident_id=incident.pk)
    assert (after.ok, after.events, after.head_hash) == (True, 3, before.head_hash)
    assert list(incident.timeline.values_list("seq", flat=True)) == [1, 2, 3]


@postgres_only
def test_the_runtime_role_cannot_insert_an_old_event(attacker):
    incident = IncidentFactory.create()
    append(incident, 3)
    head = incident.timeline.order_by("-seq").first()
    assert head is not None
    last_week = timezone.now() - timedelta(days=7)

    with pytest.raises(psycopg.Error, match="is earlier than"):
        attacker.execute(
            "INSERT INTO incidents_timelineevent (incident_id, seq, occurred_at, actor_label, "
            "kind, payload, prev_hash, hash) VALUES (%s, %s, %s, 'system', %s, '{}', %s, %s)",
            [incident.pk, 4, last_week, NOTE, head.hash, "f" * 64],
        )

    assert timeline_verify(incident_id=incident.pk).events == 3


@postgres_only
def test_an_event_forged_by_the_runtime_role_is_reported_by_verify_and_the_pack(attacker):
    incident = IncidentFactory.create()
    append(incident, 3)
    head = incident.timeline.order_by("-seq").first()
    assert head is not None
    # The next link, in order and dated now: the database accepts it, but without the
    # timeline key its hash can only be the plain SHA-256.
    now = timezone.now()
    attacker.execute(
        "INSERT INTO incidents_timelineevent (incident_id, seq, occurred_at, actor_label, "
        "kind, payload, prev_hash, hash) VALUES (%s, 4, %s, 'system', %s, '{}', %s, %s)",
        [incident.pk, now, NOTE, head.hash, unkeyed_hash(incident.pk, 4, now, head.hash, {})],
    )

    check = timeline_verify(incident_id=incident.pk)
    assert (check.first_broken_seq, check.problem) == (
        4,
        "its content does not match its keyed hash",
    )
    with pytest.raises(CommandError, match="breaks at seq 4"):
        call_command("verify_timeline", str(incident.pk))
    first = pack_first_page(incident.pk)
    assert "DOES NOT VERIFY" in first and "The first broken sequence number is 4" in first


@postgres_only
def test_the_application_still_appends_as_the_runtime_role(runtime_role, make_user):
    """The grants are enough for what the application does: append, and let a user go."""
    role, _password = runtime_role
    incident = IncidentFactory.create()
    user = make_user("leaver")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f'SET LOCAL ROLE "{role}"')
        timeline_append(incident_id=incident.pk, kind=NOTE, actor=user, payload={})
        append(incident, 2)
        user.delete()
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone()[0] == role

    assert incident.timeline.get(seq=1).actor_label == "leaver"
    assert timeline_verify(incident_id=incident.pk).ok


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_truncate_is_refused_even_to_the_owner_unless_it_flushes_the_database():
    """The table's owner too; `manage.py flush` (this test's own teardown) names itself."""
    incident = IncidentFactory.create()
    append(incident, 2)

    with (
        pytest.raises(DatabaseError, match="append-only: TRUNCATE"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE incidents_timelineevent CASCADE")

    assert incident.timeline.count() == 2


@pytest.mark.django_db
def test_a_chain_rehashed_without_the_key_is_reported():
    incident = IncidentFactory.create()
    append(incident, 3)
    # The owner edits event 2 and re-hashes the chain from there, as well as one can
    # without the key.
    prev = incident.timeline.get(seq=1).hash
    for event in incident.timeline.filter(seq__gte=2).order_by("seq"):
        payload = {"i": 99} if event.seq == 2 else event.payload
        digest = unkeyed_hash(incident.pk, event.seq, event.occurred_at, prev, payload)
        as_owner_behind_the_guards(
            "UPDATE incidents_timelineevent SET payload = %s, prev_hash = %s, hash = %s "
            "WHERE id = %s",
            [json.dumps(payload), prev, digest, event.pk],
        )
        prev = digest

    check = timeline_verify(incident_id=incident.pk)

    assert (check.first_broken_seq, check.problem) == (
        2,
        "its content does not match its keyed hash",
    )


@pytest.mark.django_db
def test_a_tail_deleted_after_a_checkpoint_is_reported_by_verify_and_the_pack(
    timeline_checkpoints,
):
    incident = IncidentFactory.create()
    append(incident, 5)
    assert timeline_checkpoint_write() == 1
    assert timeline_checkpoint_write() == 0  # an unmoved head is not written again

    as_owner_behind_the_guards(
        "DELETE FROM incidents_timelineevent WHERE incident_id = %s AND seq >= 4", [incident.pk]
    )

    check = timeline_verify(incident_id=incident.pk)
    assert check.first_broken_seq == 4
    assert "events 4 to 5 are missing" in check.problem
    with pytest.raises(CommandError, match="events 4 to 5 are missing"):
        call_command("verify_timeline", str(incident.pk))
    first = pack_first_page(incident.pk)
    assert "DOES NOT VERIFY" in first and "The first broken sequence number is 4" in first


@pytest.mark.django_db
def test_a_rebuilt_chain_that_differs_from_a_checkpoint_is_reported(timeline_checkpoints):
    incident = IncidentFactory.create()
    append(incident, 3)
    timeline_checkpoint_write()
    # Whoever holds the key and the owner's role rewrites the whole chain from event 3 on:
    # it verifies on its own, but not against what the checkpoint saw.
    as_owner_behind_the_guards(
        "DELETE FROM incidents_timelineevent WHERE incident_id = %s AND seq = 3", [incident.pk]
    )
    timeline_append(incident_id=incident.pk, kind=NOTE, actor=None, payload={"i": "other"})

    check = timeline_verify(incident_id=incident.pk)

    assert check.first_broken_seq == 3
    assert check.problem.startswith("it is not the event the checkpoint of")


@pytest.mark.django_db
def test_a_forged_checkpoint_line_is_reported(timeline_checkpoints):
    incident = IncidentFactory.create()
    append(incident, 2)
    timeline_checkpoint_write()
    (path,) = timeline_checkpoints.iterdir()
    row = json.loads(path.read_text())
    path.write_text(json.dumps({**row, "seq": 1}) + "\n")

    check = timeline_verify(incident_id=incident.pk)

    assert not check.ok and "does not carry a valid signature" in check.problem


@pytest.mark.django_db
def test_checkpoints_are_written_privately_and_counted_in_the_pack(timeline_checkpoints):
    incident = IncidentFactory.create()
    append(incident, 2)
    timeline_checkpoint_write()

    (path,) = timeline_checkpoints.iterdir()
    assert path.stat().st_mode & 0o777 == 0o600
    (checkpoint,) = checkpoints_read(incident_id=incident.pk)
    assert (checkpoint.seq, checkpoint.signed) == (2, True)
    check = timeline_verify(incident_id=incident.pk)
    assert (check.ok, check.checkpoints) == (True, 1)
    assert "held against 1 checkpoint kept outside the database (the latest: sequence 2" in (
        pack_first_page(incident.pk)
    )


@pytest.mark.django_db
def test_verify_reports_an_event_dated_before_the_one_it_follows():
    """SQLite has no trigger to refuse it; the verification still names it."""
    incident = IncidentFactory.create()
    append(incident, 2)
    first, second = incident.timeline.order_by("seq")
    as_owner_behind_the_guards(
        "UPDATE incidents_timelineevent SET occurred_at = %s WHERE id = %s",
        [first.occurred_at - timedelta(hours=1), second.pk],
    )

    check = timeline_verify(incident_id=incident.pk)

    assert (check.first_broken_seq, check.problem) == (2, "it is dated before the event it follows")


@pytest.mark.django_db
def test_upgrading_keys_every_intact_chain_and_leaves_a_broken_one_broken():
    """Migration 0010 re-hashes chains written before the key under it; a chain already
    broken is not laundered into one that verifies."""
    from types import SimpleNamespace

    from django.apps import apps

    keyed = importlib.import_module("incidents.migrations.0010_timeline_keyed")
    intact, broken = IncidentFactory.create(), IncidentFactory.create()
    for incident in (intact, broken):
        append(incident, 3)
        prev = GENESIS
        for event in incident.timeline.order_by("seq"):
            digest = unkeyed_hash(incident.pk, event.seq, event.occurred_at, prev, event.payload)
            as_owner_behind_the_guards(
                "UPDATE incidents_timelineevent SET prev_hash = %s, hash = %s WHERE id = %s",
                [prev, digest, event.pk],
            )
            prev = digest
    as_owner_behind_the_guards(
        "UPDATE incidents_timelineevent SET payload = '{\"i\": 7}' WHERE incident_id = %s "
        "AND seq = 2",
        [broken.pk],
    )
    assert timeline_verify(incident_id=intact.pk).first_broken_seq == 1

    keyed._rehash(apps, SimpleNamespace(connection=connection), keyed_before=False)

    assert timeline_verify(incident_id=intact.pk).ok
    assert timeline_verify(incident_id=broken.pk).first_broken_seq == 1


@postgres_only
def test_migrate_runs_as_the_owner_and_the_processes_as_the_runtime_role(runtime_role):
    """DATABASE_URL names the runtime role; DATABASE_MIGRATE_URL the owner, for migrate
    alone, which gives the runtime role its rights back after every run."""
    role, password = runtime_role
    incident = IncidentFactory.create()
    append(incident, 2)
    with connection.cursor() as cursor:
        cursor.execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{role}"')
    db = connection.settings_dict
    where = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    owner = db["USER"] or "postgres"
    env = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": f"postgres://{role}:{password}@{where}",
        "DATABASE_MIGRATE_URL": f"postgres://{owner}@{where}",
    }

    def manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    migrated = manage("migrate", "--no-input")
    verified = manage("verify_timeline", str(incident.pk))

    assert migrated.returncode == 0, migrated.stderr
    assert verified.returncode == 0, verified.stderr
    assert "2 events, chain intact" in verified.stdout
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT has_table_privilege(%s, 'incidents_incident', 'UPDATE'), "
            "has_table_privilege(%s, 'incidents_timelineevent', 'INSERT'), "
            "has_table_privilege(%s, 'incidents_timelineevent', 'DELETE'), "
            "has_table_privilege(%s, 'incidents_timelineevent', 'TRUNCATE'), "
            "has_table_privilege(%s, 'django_migrations', 'INSERT'), "
            "has_schema_privilege(%s, 'public', 'CREATE')",
            [role] * 6,
        )
        assert cursor.fetchone() == (True, True, False, False, False, False)
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = %s",
            [role],
        )
        assert cursor.fetchone()[0] == 0


@pytest.mark.django_db
def test_the_task_cluster_checkpoints_the_heads_every_hour():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(func="incidents.tasks.timeline_checkpoint_task")
    assert schedule.schedule_type == Schedule.HOURLY and schedule.repeats == -1
