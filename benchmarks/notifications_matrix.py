"""The "who gets what" matrix: one grouped query versus a loop over people.

    python -m benchmarks notifications_matrix [--people 50000] [--repeat 3]

Builds an incident with PEOPLE affected customers in five languages and three data
categories inside a transaction that is rolled back, then times communication_matrix
(GROUP BY language and data categories, the version chosen per group) against the
baseline a per-person page would do (read every person, choose their version in Python).
Both must agree on the counts; the ratio is what to read.
"""

import argparse
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from django.db import transaction

from customers.models import Customer
from incidents.models import AffectedCustomer, Incident
from notifications.models import (
    Communication,
    CommunicationVersion,
    MessageTemplate,
    TemplateVersion,
)
from notifications.selectors import communication_matrix, language_primary, version_choose

LANGUAGES = ["en", "de-DE", "fr", "es", "it"]
CATEGORIES = [["credentials"], ["payment_card"], ["credentials", "payment_card"]]


class Rollback(Exception):
    pass


def build(people: int) -> Communication:
    now = datetime.now(UTC)
    incident = Incident.objects.create(
        title="Benchmark",
        nature="n",
        awareness_at=now,
        contact_point="c",
        likely_consequences="l",
        measures_taken="m",
        measures_proposed="p",
    )
    batch = 5000
    for start in range(0, people, batch):
        customers = Customer.objects.bulk_create(
            Customer(
                first_name=f"P{i}",
                email=f"bench{i}@example.invalid",
                email_normalized=f"bench{i}@example.invalid",
                language=LANGUAGES[i % len(LANGUAGES)],
                country="DE",
            )
            for i in range(start, min(start + batch, people))
        )
        AffectedCustomer.objects.bulk_create(
            AffectedCustomer(
                incident=incident,
                customer=c,
                data_categories=CATEGORIES[i % len(CATEGORIES)],
                found_by="forensic_list",
            )
            for i, c in enumerate(customers, start)
        )
    communication = Communication.objects.create(
        incident=incident,
        name="Benchmark",
        channels=["email"],
        fallback_language="en",
        send_window_start=now,
        send_window_end=now + timedelta(hours=1),
    )
    for n, (language, categories) in enumerate(
        (lang, cats) for lang in ("en", "de", "fr") for cats in CATEGORIES
    ):
        template = MessageTemplate.objects.create(incident=incident, name=f"T{n}")
        version = TemplateVersion.objects.create(
            template=template,
            number=1,
            channel="email",
            language=language,
            data_categories=categories,
            subject="s",
            text_body="t",
            html_body="h",
            content_hash="0" * 64,
        )
        CommunicationVersion.objects.create(communication=communication, version=version)
    return communication


def per_person(communication: Communication) -> Counter[tuple[str, int | None]]:
    versions = list(communication.versions.all())
    counts: Counter[tuple[str, int | None]] = Counter()
    rows = AffectedCustomer.objects.filter(incident_id=communication.incident_id).select_related(
        "customer"
    )
    for row in rows.iterator(chunk_size=5000):
        version, _ = version_choose(
            versions,
            channel="email",
            language=language_primary(row.customer.language),
            data_categories=row.data_categories,
            fallback_language=communication.fallback_language,
        )
        counts[("email", version.pk if version else None)] += 1
    return counts


def grouped(communication: Communication) -> Counter[tuple[str, int | None]]:
    counts: Counter[tuple[str, int | None]] = Counter()
    for row in communication_matrix(communication=communication).rows:
        counts[(row.channel, row.version.pk if row.version else None)] += row.people
    return counts


def timed(function, communication: Communication, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function(communication)
        best = min(best, time.perf_counter() - started)
    return best, result


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks notifications_matrix")
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args(argv)
    try:
        with transaction.atomic():
            started = time.perf_counter()
            communication = build(options.people)
            print(f"built {options.people} affected people in {time.perf_counter() - started:.1f}s")
            loop_s, loop_counts = timed(per_person, communication, options.repeat)
            group_s, group_counts = timed(grouped, communication, options.repeat)
            if loop_counts != group_counts:
                raise SystemExit(f"results differ: {loop_counts} vs {group_counts}")
            print(f"per-person loop (baseline): {loop_s:.3f}s")
            print(f"grouped matrix:             {group_s:.3f}s")
            print(f"speed-up: {loop_s / group_s:.1f}x, same counts for {options.people} people")
            raise Rollback
    except Rollback:
        pass
