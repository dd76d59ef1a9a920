"""The README's list of regimes, generated from the data so that it cannot drift.

python manage.py regimes_table            # print the table
python manage.py regimes_table --write    # replace it in README.md between its markers
"""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from incidents.models import Regime

START, END = "<!-- regimes:start -->", "<!-- regimes:end -->"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def regimes_table() -> str:
    lines = [
        "| Code | Regime | Deadline | Clock start | Threshold | Source |",
        "|---|---|---|---|---|---|",
    ]
    for regime in Regime.objects.filter(active=True).order_by("code"):
        if regime.deadline_unit == Regime.Unit.NONE:
            deadline = "no fixed deadline"
        else:
            deadline = f"{regime.deadline_amount} {regime.get_deadline_unit_display().lower()}"
        if regime.relation:
            deadline += f"; {regime.get_relation_display().lower()} the consumer notice"
        threshold = str(regime.min_affected) if regime.min_affected else ""
        if regime.threshold_per_subdivision and threshold:
            threshold += " in one state"
        if regime.max_affected:
            threshold = f"under {regime.max_affected}"
        lines.append(
            f"| {regime.code} | {_cell(regime.name)} | {deadline} "
            f"| {regime.get_clock_start_display()} | {threshold} | {_cell(regime.source)} |"
        )
    return "\n".join(lines)


def readme_with_table(readme: str, table: str) -> str:
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{table}\n{END}{tail}"


class Command(BaseCommand):
    help = "Print the regimes as a Markdown table, or write it into README.md."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--write", action="store_true", help="update README.md")

    def handle(self, *args: Any, **options: Any) -> None:
        table = regimes_table()
        if not options["write"]:
            self.stdout.write(table)
            return
        path = Path(settings.BASE_DIR) / "README.md"
        path.write_text(readme_with_table(path.read_text(), table))
        self.stdout.write(f"README.md: {table.count(chr(10)) - 1} regimes.")
