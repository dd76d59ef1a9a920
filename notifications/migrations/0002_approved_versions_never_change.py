"""A database guard behind the services and the admin: an approved template version's
words and status never change, whoever writes to the table, and on PostgreSQL the row is
never deleted. SQLite keeps no delete guard: Django's flush empties tables with DELETE
(PostgreSQL's uses TRUNCATE, which row triggers do not see), and the app has no delete path."""

from django.db import migrations

FROZEN = (
    "template_id",
    "number",
    "channel",
    "language",
    "data_categories",
    "subject",
    "text_body",
    "html_body",
    "content_hash",
    "status",
)
TABLE = "notifications_templateversion"
MESSAGE = "an approved template version cannot change or be deleted; edit it as a new version"

POSTGRESQL = f"""
CREATE FUNCTION {TABLE}_frozen() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION '{MESSAGE} (version %)', OLD.id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF {" OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN)} THEN
        RAISE EXCEPTION '{MESSAGE} (version %)', OLD.id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER {TABLE}_frozen BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW WHEN (OLD.status = 'approved') EXECUTE FUNCTION {TABLE}_frozen();
"""
POSTGRESQL_REVERSE = f"""
DROP TRIGGER {TABLE}_frozen ON {TABLE};
DROP FUNCTION {TABLE}_frozen();
"""
SQLITE = [
    f"""
CREATE TRIGGER {TABLE}_frozen BEFORE UPDATE ON {TABLE}
FOR EACH ROW WHEN OLD.status = 'approved' AND ({" OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)})
BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;
""",
]
SQLITE_REVERSE = [f"DROP TRIGGER {TABLE}_frozen;"]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": [POSTGRESQL], "sqlite": SQLITE}.get(vendor, [])
    for statement in statements:
        schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": [POSTGRESQL_REVERSE], "sqlite": SQLITE_REVERSE}.get(vendor, [])
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
