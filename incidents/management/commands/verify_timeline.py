from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from incidents.models import Incident
from incidents.selectors import timeline_verify
from incidents.services.timestamps import tsa_configured


class Command(BaseCommand):
    help = "Recompute an incident's timeline hash chain; name the first broken sequence number."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("incident", type=int, help="the incident's id")

    def handle(self, *args: Any, incident: int, **options: Any) -> None:
        if not Incident.objects.filter(pk=incident).exists():
            raise CommandError(f"Incident {incident} does not exist.")
        check = timeline_verify(incident_id=incident)
        if not check.ok:
            raise CommandError(
                f"Incident {incident}: the chain breaks at seq {check.first_broken_seq}: "
                f"{check.problem}."
            )
        self.stdout.write(
            f"Incident {incident}: {check.events} events, chain intact, head {check.head_hash}"
        )
        if check.timestamped:
            self.stdout.write(
                f"{check.timestamped} checkpoints timestamped by the TSA, the latest at "
                f"{check.latest_timestamp:%Y-%m-%d %H:%M:%S %Z}"
            )
        if check.untimestamped and (check.timestamped or tsa_configured()):
            self.stdout.write(f"{check.untimestamped} checkpoints without a timestamp")
