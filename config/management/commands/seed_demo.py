from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.demo import demo_seed


class Command(BaseCommand):
    help = "Create one demo user per role and the demo data (idempotent). Refused unless DEBUG."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--allow-without-debug",
            action="store_true",
            help="Seed even though DEBUG is off (never on an instance holding real data).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["allow_without_debug"]:
            raise CommandError(
                "seed_demo creates users with published passwords; it runs only with DEBUG=true."
            )
        users = demo_seed(stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo users (username / password — role):"))
        for user in users:
            self.stdout.write(f"  {user.username:<10} / {user.password:<28} — {user.role}")
