"""Suspected duplicates found without an email match, and the merges a person confirms.

Finding is set-based: one SQL statement pairs customers who share a blocking key (last
name + postal code, or an E.164 phone) and streams the pairs; rapidfuzz scores them in
Python; the pairs above the threshold are written in batches. Nothing is merged here:
only an exact key (the email, at import) merges without a person.
"""

import re
from collections.abc import Iterator
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from rapidfuzz import fuzz

from ..models import Customer, CustomerMerge, DuplicateCandidate, SourceRecord, Touchpoint
from ..signals import customers_changed

# Pairs scoring at least this go to the review queue.
THRESHOLD = 0.85
# A blocking key shared by more customers than this says nothing about any two of them
# ("Smith" at one big-city postal code): it is skipped rather than paired n² times.
MAX_BLOCK = 50
_FETCH = 5000
_NUMBER = re.compile(r"\d+")

# Customers still standing on their own, with the keys normalised the same way on both
# sides of the join: case and spaces do not tell people apart.
_KEYS = (
    "SELECT id, lower(trim(last_name)) || '|' || upper(replace(postal_code, ' ', '')) AS key, "
    "'name_postal' AS reason FROM customers_customer WHERE merged_into_id IS NULL "
    "AND last_name <> '' AND postal_code <> '' "
    "UNION ALL SELECT id, phone, 'phone' FROM customers_customer "
    "WHERE merged_into_id IS NULL AND phone LIKE '+%%'"
)
BLOCKING_SQL = (
    f"WITH k AS ({_KEYS}), "  # noqa: S608
    "blocks AS (SELECT key, reason FROM k GROUP BY key, reason "
    f"HAVING count(*) BETWEEN 2 AND {MAX_BLOCK}), "
    "pairs AS (SELECT a.id AS a_id, b.id AS b_id, min(a.reason) AS reason "
    "FROM k a JOIN blocks USING (key, reason) JOIN k b ON b.key = a.key "
    "AND b.reason = a.reason AND b.id > a.id GROUP BY a.id, b.id) "
    "SELECT p.a_id, p.b_id, p.reason, a.first_name, a.last_name, a.street, a.phone, "
    "b.first_name, b.last_name, b.street, b.phone FROM pairs p "
    "JOIN customers_customer a ON a.id = p.a_id JOIN customers_customer b ON b.id = p.b_id "
    "WHERE NOT EXISTS (SELECT 1 FROM customers_duplicatecandidate d "
    "WHERE d.customer_a_id = p.a_id AND d.customer_b_id = p.b_id)"
)


class MergeError(ValueError):
    pass


def pair_score(a: tuple[str, str, str, str], b: tuple[str, str, str, str]) -> float:
    """How alike two people are, 0 to 1, from (first name, last name, street, phone)."""
    name = fuzz.token_sort_ratio(f"{a[0]} {a[1]}".casefold(), f"{b[0]} {b[1]}".casefold()) / 100
    # A street missing on either side neither helps nor hurts; another house number on
    # the same street is another house.
    street = 0.5
    if a[2] and b[2]:
        numbers_a, numbers_b = _NUMBER.findall(a[2]), _NUMBER.findall(b[2])
        if numbers_a and numbers_b and numbers_a != numbers_b:
            street = 0.0
        else:
            street = fuzz.token_set_ratio(a[2].casefold(), b[2].casefold()) / 100
    score = 0.6 * name + 0.4 * street
    if a[3] and a[3] == b[3]:
        # The same number is strong evidence when the names agree too.
        score = max(score, 0.4 + 0.6 * name)
    return round(score, 4)


def _scored_pairs() -> Iterator[tuple[int, int, str, float]]:
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(BLOCKING_SQL, [])
        while rows := cursor.fetchmany(_FETCH):
            for a_id, b_id, reason, *values in rows:
                score = pair_score(tuple(values[:4]), tuple(values[4:]))
                if score >= THRESHOLD:
                    yield a_id, b_id, reason, score


def duplicates_find() -> int:
    """Queue every new pair of customers who look like one person; returns how many."""
    found = 0
    batch: list[DuplicateCandidate] = []
    for a_id, b_id, reason, score in _scored_pairs():
        batch.append(
            DuplicateCandidate(customer_a_id=a_id, customer_b_id=b_id, reason=reason, score=score)
        )
        if len(batch) >= _FETCH:
            found += len(DuplicateCandidate.objects.bulk_create(batch, ignore_conflicts=True))
            batch = []
    found += len(DuplicateCandidate.objects.bulk_create(batch, ignore_conflicts=True))
    return found


def _history(customer_ids: list[int], text: str, by: Any, now: Any) -> None:
    Touchpoint.objects.bulk_create(
        Touchpoint(
            customer_id=pk,
            channel=Touchpoint.Channel.IMPORT,
            kind=Touchpoint.Kind.RECORD,
            occurred_at=now,
            reference=text[:255],
            created_by=by,
        )
        for pk in customer_ids
    )


@transaction.atomic
def customer_merge(*, candidate: DuplicateCandidate, survivor: Customer, by: Any) -> CustomerMerge:
    """Merge the candidate's other customer into `survivor`, as the person `by` confirmed.

    Every source record of the merged customer moves to the survivor and is listed on
    the merge, so that customer_unmerge can give them back.
    """
    if survivor.pk not in (candidate.customer_a_id, candidate.customer_b_id):
        raise MergeError(f"Customer {survivor.pk} is not one of pair {candidate.pk}.")
    merged_id = (
        candidate.customer_b_id
        if survivor.pk == candidate.customer_a_id
        else candidate.customer_a_id
    )
    now = timezone.now()
    decided = DuplicateCandidate.objects.filter(
        pk=candidate.pk, status=DuplicateCandidate.Status.PENDING
    ).update(status=DuplicateCandidate.Status.MERGED, decided_by=by, decided_at=now)
    if decided != 1:
        current = DuplicateCandidate.objects.get(pk=candidate.pk).get_status_display()
        raise MergeError(f"Pair {candidate.pk} is {current.lower()}; only a waiting pair merges.")
    # Locked in id order, so two merges touching one customer cannot deadlock.
    locked = {
        c.pk: c
        for c in Customer.objects.select_for_update().filter(
            pk__in=sorted([survivor.pk, merged_id])
        )
    }
    if any(c.merged_into_id for c in locked.values()):
        raise MergeError("One of the two customers has already been merged into another.")
    records = list(SourceRecord.objects.filter(customer_id=merged_id).values_list("pk", flat=True))
    SourceRecord.objects.filter(pk__in=records).update(customer_id=survivor.pk)
    Customer.objects.filter(pk=merged_id).update(merged_into_id=survivor.pk, updated_at=now)
    merge = CustomerMerge.objects.create(
        survivor_id=survivor.pk,
        merged_id=merged_id,
        candidate=candidate,
        source_record_ids=records,
        merged_by=by,
        merged_at=now,
    )
    _history(
        [survivor.pk, merged_id],
        f"Customer {merged_id} merged into customer {survivor.pk} (merge {merge.pk})",
        by,
        now,
    )
    customers_changed.send(sender=CustomerMerge, reason="merge")
    candidate.refresh_from_db()
    return merge


@transaction.atomic
def customer_unmerge(*, merge: CustomerMerge, by: Any) -> CustomerMerge:
    """Undo a merge: the merged customer stands alone again with its source records."""
    now = timezone.now()
    undone = CustomerMerge.objects.filter(pk=merge.pk, unmerged_at__isnull=True).update(
        unmerged_by=by, unmerged_at=now
    )
    if undone != 1:
        raise MergeError(f"Merge {merge.pk} has already been undone.")
    SourceRecord.objects.filter(
        pk__in=merge.source_record_ids, customer_id=merge.survivor_id
    ).update(customer_id=merge.merged_id)
    Customer.objects.filter(pk=merge.merged_id, merged_into_id=merge.survivor_id).update(
        merged_into_id=None, updated_at=now
    )
    if merge.candidate_id:
        # A person said they are two people: the pair does not come back to the queue.
        DuplicateCandidate.objects.filter(pk=merge.candidate_id).update(
            status=DuplicateCandidate.Status.DISMISSED, decided_by=by, decided_at=now
        )
    _history(
        [merge.survivor_id, merge.merged_id],
        f"Merge {merge.pk} undone: customer {merge.merged_id} split from {merge.survivor_id}",
        by,
        now,
    )
    customers_changed.send(sender=CustomerMerge, reason="unmerge")
    merge.refresh_from_db()
    return merge


@transaction.atomic
def duplicate_dismiss(*, candidate: DuplicateCandidate, by: Any) -> None:
    """A person found the pair to be two people: it leaves the queue for good."""
    dismissed = DuplicateCandidate.objects.filter(
        pk=candidate.pk, status=DuplicateCandidate.Status.PENDING
    ).update(status=DuplicateCandidate.Status.DISMISSED, decided_by=by, decided_at=timezone.now())
    if dismissed != 1:
        raise MergeError(f"Pair {candidate.pk} is no longer waiting for review.")
