from typing import Any

from django.core.management.base import BaseCommand

from config.roles import roles_sync


class Command(BaseCommand):
    help = "Create the role groups (CMO, CISO, DPO, ...) with exactly their permissions."

    def handle(self, *args: Any, **options: Any) -> None:
        for role, count in roles_sync().items():
            self.stdout.write(f"{role}: {count} permissions")
