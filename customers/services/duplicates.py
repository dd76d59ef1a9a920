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

from config.services import ServiceError

from ..models import (
    Customer,
    CustomerMerge,
    DuplicateCandidate,
    DuplicateSearch,
    SegmentMembership,
    SourceRecord,
    Touchpoint,
)
from ..signals import customer_merged, customer_unmerged, customers_changed

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


class MergeError(ServiceError, ValueError):
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


def duplicates_search_run(*, trigger: str, by: Any = None) -> DuplicateSearch:
    """Run duplicates_find and record the run, its time and its yield, for the queue page.

    Two clusters running the daily schedule at once waste work but write nothing twice:
    a pair is unique, and each run skips the pairs already queued.
    """
    search = DuplicateSearch.objects.create(
        trigger=trigger, requested_by=by, started_at=timezone.now()
    )
    try:
        found = duplicates_find()
    except Exception as error:
        DuplicateSearch.objects.filter(pk=search.pk).update(
            finished_at=timezone.now(), error=str(error)[:2000]
        )
        raise
    DuplicateSearch.objects.filter(pk=search.pk).update(finished_at=timezone.now(), found=found)
    search.refresh_from_db()
    return search


def duplicates_search_enqueue(*, by: Any) -> None:
    """Search now, in the task cluster, once the request that asked has committed."""
    from django_q.tasks import async_task

    user_id = by.pk if by is not None else None
    transaction.on_commit(
        lambda: async_task("customers.tasks.duplicates_search_task", user_id, group="duplicates")
    )


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
    if Customer.objects.filter(merged_into_id=merged_id).exists():
        # Merges stay one hop deep, so every reader finds a survivor with one join.
        raise MergeError(
            f"Other customers were merged into customer {merged_id}: keep it as the survivor."
        )
    records = list(SourceRecord.objects.filter(customer_id=merged_id).values_list("pk", flat=True))
    SourceRecord.objects.filter(pk__in=records).update(customer_id=survivor.pk)
    segments = _segments_move(from_id=merged_id, to_id=survivor.pk, now=now)
    Customer.objects.filter(pk=merged_id).update(merged_into_id=survivor.pk, updated_at=now)
    merge = CustomerMerge.objects.create(
        survivor_id=survivor.pk,
        merged_id=merged_id,
        candidate=candidate,
        source_record_ids=records,
        segments=segments,
        merged_by=by,
        merged_at=now,
    )
    # In this transaction: a scope or an unsent notice that held the merged-away
    # customer holds the survivor from the same commit on, or the merge does not happen.
    customer_merged.send(
        sender=Customer,
        merge_id=merge.pk,
        survivor_id=survivor.pk,
        merged_id=merged_id,
        actor=by,
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
    _segments_restore(merge=merge, now=now)
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
    customer_unmerged.send(
        sender=Customer,
        merge_id=merge.pk,
        survivor_id=merge.survivor_id,
        merged_id=merge.merged_id,
        actor=by,
    )
    customers_changed.send(sender=CustomerMerge, reason="unmerge")
    merge.refresh_from_db()
    return merge


def _segments_move(*, from_id: int, to_id: int, now: Any) -> dict[str, list[int]]:
    """The survivor joins every segment the merged customer was in; the merged one leaves.

    Campaign audiences are drawn from segments, so a merged-away record left in them
    would be mailed as a second person. Returns what to put back on undo.
    """
    held = sorted(
        SegmentMembership.objects.filter(customer_id=from_id).values_list("segment_id", flat=True)
    )
    already = set(
        SegmentMembership.objects.filter(customer_id=to_id, segment_id__in=held).values_list(
            "segment_id", flat=True
        )
    )
    added = [s for s in held if s not in already]
    SegmentMembership.objects.bulk_create(
        SegmentMembership(segment_id=s, customer_id=to_id, added_at=now) for s in added
    )
    SegmentMembership.objects.filter(customer_id=from_id).delete()
    return {"held": held, "added": added}


def _segments_restore(*, merge: CustomerMerge, now: Any) -> None:
    segments = merge.segments or {}
    SegmentMembership.objects.filter(
        customer_id=merge.survivor_id, segment_id__in=segments.get("added", [])
    ).delete()
    SegmentMembership.objects.bulk_create(
        (
            SegmentMembership(segment_id=s, customer_id=merge.merged_id, added_at=now)
            for s in segments.get("held", [])
        ),
        ignore_conflicts=True,
    )


@transaction.atomic
def duplicate_dismiss(*, candidate: DuplicateCandidate, by: Any) -> None:
    """A person found the pair to be two people: it leaves the queue for good."""
    dismissed = DuplicateCandidate.objects.filter(
        pk=candidate.pk, status=DuplicateCandidate.Status.PENDING
    ).update(status=DuplicateCandidate.Status.DISMISSED, decided_by=by, decided_at=timezone.now())
    if dismissed != 1:
        raise MergeError(f"Pair {candidate.pk} is no longer waiting for review.")
