from typing import Any

from django.core.management.commands import flush
from django.db import DEFAULT_DB_ALIAS, connections


class Command(flush.Command):
    """Django's `flush`, which on PostgreSQL names itself to the timeline's TRUNCATE guard.

    The incident timeline refuses TRUNCATE (migration 0010) unless the table's owner asks
    for it in the session: emptying the whole database (`manage.py flush`, a test database
    between tests) is that request. The runtime role is granted no TRUNCATE, so it can't.
    """

    def handle(self, **options: Any) -> None:
        connection = connections[options.get("database", DEFAULT_DB_ALIAS)]
        if connection.vendor != "postgresql":
            super().handle(**options)
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('breachdesk.flush', 'on', false)")
        try:
            super().handle(**options)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('breachdesk.flush', '', false)")
