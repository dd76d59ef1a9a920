"""On PostgreSQL a timeline event is inserted only as the next link of its incident's chain:
the next sequence number, the previous event's hash, and a time no earlier than the
previous event's. An event slipped in with an old time or out of sequence is refused.

(SQLite, the demo database, has no such guard; `verify_timeline` reports the break.)
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION incidents_timelineevent_in_order() RETURNS trigger AS $$
DECLARE
    last_seq integer;
    last_at timestamptz;
    last_hash varchar;
BEGIN
    SELECT seq, occurred_at, hash INTO last_seq, last_at, last_hash
        FROM incidents_timelineevent
        WHERE incident_id = NEW.incident_id
        ORDER BY seq DESC LIMIT 1;
    IF last_seq IS NULL THEN
        IF NEW.seq <> 1 THEN
            RAISE EXCEPTION 'timeline of incident %: the first event has seq 1, not %',
                NEW.incident_id, NEW.seq;
        END IF;
    ELSIF NEW.seq <> last_seq + 1 OR NEW.prev_hash <> last_hash THEN
        RAISE EXCEPTION 'timeline of incident %: event % does not follow event % (its head)',
            NEW.incident_id, NEW.seq, last_seq;
    ELSIF NEW.occurred_at < last_at THEN
        RAISE EXCEPTION 'timeline of incident %: event % at % is earlier than event % at %',
            NEW.incident_id, NEW.seq, NEW.occurred_at, last_seq, last_at;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER incidents_timelineevent_in_order
    BEFORE INSERT ON incidents_timelineevent
    FOR EACH ROW EXECUTE FUNCTION incidents_timelineevent_in_order();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS incidents_timelineevent_in_order ON incidents_timelineevent;
DROP FUNCTION IF EXISTS incidents_timelineevent_in_order();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0007_drill_change_decision")]

    operations = [migrations.RunPython(forward, backward)]
