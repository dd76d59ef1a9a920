"""The PostgreSQL role the web and task processes run as, and what it may do.

Evidence kept in tables is only as strong as the weakest role that can write them. The
owner of the tables can alter or drop their triggers, truncate them, rewrite them; so in
production the processes connect as a *runtime role* that owns nothing: it reads and
writes rows, but cannot change a trigger, TRUNCATE any table, or UPDATE/DELETE the rows of
an append-only model. Migrations run as the owner (DATABASE_MIGRATE_URL), and after each
one the runtime role named in settings is given exactly these grants.

A model is append-only for the runtime role when it says so:

    runtime_append_only = True
    runtime_updatable_columns = ("actor_id",)  # what Django's SET_NULL must still write

SQLite has no roles: there, nothing here applies.
"""

import re

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connections

# Role names are written into GRANT statements, which take no parameters: plain names only.
ROLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


class RuntimeRoleError(Exception):
    pass


def role_name_check(role: str) -> str:
    if not ROLE_NAME.fullmatch(role):
        raise RuntimeRoleError(
            f"{role!r} is not a plain role name (letters, digits and _, at most 63)."
        )
    return role


def _append_only_tables() -> list[tuple[str, tuple[str, ...]]]:
    return [
        (model._meta.db_table, tuple(getattr(model, "runtime_updatable_columns", ())))
        for model in apps.get_models()
        if getattr(model, "runtime_append_only", False)
    ]


def runtime_role_exists(*, role: str, using: str = DEFAULT_DB_ALIAS) -> bool:
    connection = connections[using]
    if connection.vendor != "postgresql" or not role:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        return cursor.fetchone() is not None


def runtime_role_create(*, role: str, password: str, using: str = DEFAULT_DB_ALIAS) -> None:
    """Create the runtime role: it may log in, and nothing else (no superuser, no
    CREATEDB, no CREATEROLE, no BYPASSRLS, no replication)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        raise RuntimeRoleError("Database roles exist on PostgreSQL only.")
    quoted = connection.ops.quote_name(role_name_check(role))
    with connection.cursor() as cursor:
        # CREATE ROLE takes no parameters; the password is quoted by the server itself.
        cursor.execute("SELECT quote_literal(%s)", [password])
        literal = cursor.fetchone()[0]
        cursor.execute(
            f"CREATE ROLE {quoted} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT "
            f"NOREPLICATION NOBYPASSRLS PASSWORD {literal}"
        )


def runtime_role_grant(*, role: str, using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Give the runtime role its rights on every table of this schema, and no more; return
    the statements run (none when the role does not exist or this is not PostgreSQL).

    Run as the owner of the tables. Refuses a role that owns tables itself, or that is a
    superuser: such a role could undo every guard.
    """
    if not runtime_role_exists(role=role, using=using):
        return []
    connection = connections[using]
    quoted = connection.ops.quote_name(role_name_check(role))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = %s",
            [role],
        )
        if cursor.fetchone()[0]:
            raise RuntimeRoleError(f"The runtime role {role} is a superuser; it must not be.")
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
            "AND tableowner = %s",
            [role],
        )
        if cursor.fetchone()[0]:
            raise RuntimeRoleError(
                f"The runtime role {role} owns tables: run the migrations as another role "
                "(DATABASE_MIGRATE_URL) and give the tables to it."
            )
        cursor.execute("SELECT current_schema()")
        schema = connection.ops.quote_name(cursor.fetchone()[0])
        statements = [
            f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {quoted}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {quoted}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {quoted}",
            # Which migrations ran is the owner's to write.
            f"REVOKE INSERT, UPDATE, DELETE ON django_migrations FROM {quoted}",
            # No objects of its own (a function or table to shadow ours with).
            f"REVOKE CREATE ON SCHEMA {schema} FROM {quoted}",
        ]
        for table, columns in _append_only_tables():
            table_name = connection.ops.quote_name(table)
            statements.append(f"REVOKE UPDATE, DELETE ON {table_name} FROM {quoted}")
            if columns:
                names = ", ".join(connection.ops.quote_name(c) for c in columns)
                statements.append(f"GRANT UPDATE ({names}) ON {table_name} TO {quoted}")
        for statement in statements:
            cursor.execute(statement)
    return statements


def runtime_role_can_create(*, role: str, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether the role may still create objects in the schema: through PUBLIC on a
    database whose public schema predates PostgreSQL 15 (REVOKE CREATE ON SCHEMA public
    FROM PUBLIC closes it)."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT has_schema_privilege(%s, current_schema(), 'CREATE')", [role])
        return bool(cursor.fetchone()[0])
