"""On PostgreSQL the timeline table refuses UPDATE and DELETE: evidence is only appended.

The one change let through is Django's SET_NULL of `actor` when a user is deleted: the
event keeps `actor_label`, which is what its hash covers. SQLite, the demo database,
has no such guard; the hash chain still shows any edit (`manage.py verify_timeline`).
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION incidents_timelineevent_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.actor_id IS NOT NULL AND NEW.actor_id IS NULL
       AND (NEW.id, NEW.incident_id, NEW.seq, NEW.occurred_at, NEW.actor_label, NEW.kind,
            NEW.payload, NEW.prev_hash, NEW.hash)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.incident_id, OLD.seq, OLD.occurred_at, OLD.actor_label, OLD.kind,
            OLD.payload, OLD.prev_hash, OLD.hash)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the incident timeline is append-only: % of event % (incident %, seq %) refused',
        TG_OP, OLD.id, OLD.incident_id, OLD.seq;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER incidents_timelineevent_append_only
    BEFORE UPDATE OR DELETE ON incidents_timelineevent
    FOR EACH ROW EXECUTE FUNCTION incidents_timelineevent_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS incidents_timelineevent_append_only ON incidents_timelineevent;
DROP FUNCTION IF EXISTS incidents_timelineevent_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0004_seed_regimes")]

    operations = [migrations.RunPython(forward, backward)]
