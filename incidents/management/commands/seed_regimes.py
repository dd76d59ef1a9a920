"""Write the jurisdiction matrix (incidents.regime_data) into the database after migrate."""

from typing import Any

from django.core.management.base import BaseCommand

from incidents.regime_data import regimes_seed


class Command(BaseCommand):
    help = "Create or refresh the regimes and regulators of incidents/regime_data.py."

    def handle(self, *args: Any, **options: Any) -> None:
        created, updated = regimes_seed()
        self.stdout.write(f"Regimes: {created} created, {updated} refreshed.")
