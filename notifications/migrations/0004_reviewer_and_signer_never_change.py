"""A database guard behind the services: who reviewed a template version and who signed a
communication off are written once. On PostgreSQL an UPDATE that rewrites the reviewer
(or the review time), or a sign-off's signer, role, content hash or time, is refused.
Voiding a sign-off (voided_at, void_reason) and Django's SET_NULL of a deleted reviewer
stay possible."""

from django.db import migrations

POSTGRESQL = """
CREATE FUNCTION notifications_templateversion_reviewer_kept() RETURNS trigger AS $$
BEGIN
    IF (NEW.reviewed_by_id IS NOT NULL AND NEW.reviewed_by_id IS DISTINCT FROM OLD.reviewed_by_id)
       OR NEW.reviewed_at IS DISTINCT FROM OLD.reviewed_at THEN
        RAISE EXCEPTION 'the reviewer of template version % is recorded once', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER notifications_templateversion_reviewer_kept
    BEFORE UPDATE ON notifications_templateversion
    FOR EACH ROW WHEN (OLD.reviewed_by_id IS NOT NULL)
    EXECUTE FUNCTION notifications_templateversion_reviewer_kept();

CREATE FUNCTION notifications_communicationsignoff_signer_kept() RETURNS trigger AS $$
BEGIN
    IF NEW.user_id IS DISTINCT FROM OLD.user_id OR NEW.role IS DISTINCT FROM OLD.role
       OR NEW.content_hash IS DISTINCT FROM OLD.content_hash
       OR NEW.signed_at IS DISTINCT FROM OLD.signed_at
       OR NEW.communication_id IS DISTINCT FROM OLD.communication_id THEN
        RAISE EXCEPTION 'sign-off % keeps its signer, role, content and time', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER notifications_communicationsignoff_signer_kept
    BEFORE UPDATE ON notifications_communicationsignoff
    FOR EACH ROW EXECUTE FUNCTION notifications_communicationsignoff_signer_kept();
"""
POSTGRESQL_REVERSE = """
DROP TRIGGER notifications_templateversion_reviewer_kept ON notifications_templateversion;
DROP FUNCTION notifications_templateversion_reviewer_kept();
DROP TRIGGER notifications_communicationsignoff_signer_kept ON notifications_communicationsignoff;
DROP FUNCTION notifications_communicationsignoff_signer_kept();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_REVERSE, params=None)


class Migration(migrations.Migration):
    dependencies = [("notifications", "0003_delivery")]

    operations = [migrations.RunPython(forward, backward)]
