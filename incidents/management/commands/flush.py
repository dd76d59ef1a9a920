from typing import Any

from django.core.management.commands import flush
from django.core.management.sql import emit_post_migrate_signal
from django.db import DEFAULT_DB_ALIAS, connections


class Command(flush.Command):
    """Django's `flush`, which on PostgreSQL names itself to the timeline's TRUNCATE guard.

    The incident timeline refuses TRUNCATE (migration 0010) unless the table's owner asks
    for it in the session: emptying the whole database (`manage.py flush`, a test database
    between tests) is that request. The runtime role is granted no TRUNCATE, so it can't.

    A flush that keeps the sequences (a test database between transactional tests) truncates
    only the tables that hold rows: TRUNCATE makes new files for every table and index it
    names, and most of the eighty-odd tables are empty by then.
    """

    def handle(self, **options: Any) -> None:
        database = options.get("database", DEFAULT_DB_ALIAS)
        connection = connections[database]
        if connection.vendor != "postgresql":
            super().handle(**options)
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('breachdesk.flush', 'on', false)")
        try:
            if options.get("interactive") or options.get("reset_sequences", True):
                super().handle(**options)
            else:
                self._tables_with_rows_flush(connection, options)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('breachdesk.flush', '', false)")

    def _tables_with_rows_flush(self, connection: Any, options: dict[str, Any]) -> None:
        tables = connection.introspection.django_table_names(
            only_existing=True, include_views=False
        )
        if not tables:
            return
        # The names are the models' own tables, quoted: nothing comes from outside.
        exists = (f"EXISTS (SELECT 1 FROM {connection.ops.quote_name(t)})" for t in tables)  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(exists))
            flags = cursor.fetchone()
        held = [table for table, has_rows in zip(tables, flags, strict=True) if has_rows]
        # CASCADE: a table that refers to one with rows is emptied with it (it is in `held`
        # when it has rows of its own, and empty otherwise), whatever the order.
        connection.ops.execute_sql_flush(
            connection.ops.sql_flush(self.style, held, reset_sequences=False, allow_cascade=True)
        )
        if not options.get("inhibit_post_migrate"):
            emit_post_migrate_signal(options.get("verbosity", 1), False, options["database"])
