"""The timeline's hash chain becomes keyed, and the timeline table refuses TRUNCATE.

Keyed: each event's hash is an HMAC-SHA256 under TIMELINE_HMAC_KEY, a secret kept outside
the database, so that whoever can write the table without the key cannot re-hash an
edited chain into one that verifies. The chains written before are re-hashed here, each
only if it still verifies under the old unkeyed SHA-256: a chain already broken stays as
it is, and `verify_timeline` keeps reporting it.

TRUNCATE fires no row trigger, so the append-only guard never saw it. A statement trigger
now refuses it, except to the table's owner who asks for it by name in the session
(`breachdesk.flush`): that is `manage.py flush` (and a test database between tests), run
as the owner. The runtime role is granted no TRUNCATE at all (`db_runtime_role`).
"""

import hashlib
import hmac
import json
from datetime import UTC

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import migrations

GENESIS_HASH = "0" * 64

FORWARD = """
CREATE OR REPLACE FUNCTION incidents_timelineevent_no_truncate() RETURNS trigger AS $$
BEGIN
    IF current_setting('breachdesk.flush', true) = 'on'
       AND pg_has_role(current_user,
                       (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER')
    THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the incident timeline is append-only: TRUNCATE of % refused',
        TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER incidents_timelineevent_no_truncate
    BEFORE TRUNCATE ON incidents_timelineevent
    FOR EACH STATEMENT EXECUTE FUNCTION incidents_timelineevent_no_truncate();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS incidents_timelineevent_no_truncate ON incidents_timelineevent;
DROP FUNCTION IF EXISTS incidents_timelineevent_no_truncate();
"""


def _canonical(incident_id, seq, occurred_at, actor_label, kind, payload, prev_hash):
    document = {
        "incident": incident_id,
        "seq": seq,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(),
        "actor": actor_label,
        "kind": kind,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder
    ).encode()


def _rehash(apps, schema_editor, *, keyed_before):
    TimelineEvent = apps.get_model("incidents", "TimelineEvent")
    key = str(settings.TIMELINE_HMAC_KEY).encode()

    def keyed(data):
        return hmac.new(key, data, hashlib.sha256).hexdigest()

    def plain(data):
        return hashlib.sha256(data).hexdigest()

    old, new = (keyed, plain) if keyed_before else (plain, keyed)
    db = schema_editor.connection.alias
    incident_ids = (
        TimelineEvent.objects.using(db).values_list("incident_id", flat=True).distinct()
    )
    for incident_id in list(incident_ids):
        events = list(
            TimelineEvent.objects.using(db).filter(incident_id=incident_id).order_by("seq")
        )
        prev_old, prev_new, rewritten = GENESIS_HASH, GENESIS_HASH, []
        for expected, event in enumerate(events, start=1):
            fields = (event.actor_label, event.kind, event.payload)
            if event.seq != expected or event.prev_hash != prev_old:
                break
            if old(_canonical(incident_id, event.seq, event.occurred_at, *fields, prev_old)) != (
                event.hash
            ):
                break
            prev_old = event.hash
            digest = new(_canonical(incident_id, event.seq, event.occurred_at, *fields, prev_new))
            rewritten.append((event.pk, prev_new, digest))
            prev_new = digest
        else:
            for pk, prev_hash, digest in rewritten:
                TimelineEvent.objects.using(db).filter(pk=pk).update(
                    prev_hash=prev_hash, hash=digest
                )


def _with_append_only_lifted(schema_editor, rehash):
    postgres = schema_editor.connection.vendor == "postgresql"
    if postgres:
        schema_editor.execute(
            "ALTER TABLE incidents_timelineevent "
            "DISABLE TRIGGER incidents_timelineevent_append_only",
            params=None,
        )
    rehash()
    if postgres:
        schema_editor.execute(
            "ALTER TABLE incidents_timelineevent "
            "ENABLE TRIGGER incidents_timelineevent_append_only",
            params=None,
        )


def forward(apps, schema_editor):
    _with_append_only_lifted(
        schema_editor, lambda: _rehash(apps, schema_editor, keyed_before=False)
    )
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)
    _with_append_only_lifted(
        schema_editor, lambda: _rehash(apps, schema_editor, keyed_before=True)
    )


class Migration(migrations.Migration):
    dependencies = [("incidents", "0009_merge_20261130_0615")]

    operations = [migrations.RunPython(forward, backward)]
