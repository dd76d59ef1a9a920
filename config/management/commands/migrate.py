from typing import Any

from django.conf import settings
from django.core.management.commands import migrate
from django.db import connections


class Command(migrate.Command):
    """Django's `migrate`, run as the tables' owner when DATABASE_MIGRATE_URL is set.

    The web and task processes connect as a runtime role that may not alter a table or a
    trigger; only this command changes the schema, so only it takes the owner's
    credentials, for its own run (the database's name stays, a test database included).
    """

    def handle(self, *args: Any, **options: Any) -> None:
        owner = settings.DATABASE_MIGRATE_CREDENTIALS
        connection = connections[options["database"]]
        if not owner:
            super().handle(*args, **options)
            return
        saved = {key: connection.settings_dict.get(key) for key in owner}
        connection.close()
        connection.settings_dict.update(owner)
        try:
            super().handle(*args, **options)
        finally:
            connection.close()
            connection.settings_dict.update(saved)
