"""The scope of an incident: the set of affected customers, computed in SQL over sets.

A scope write locks the incident row (so two analysts scoping one incident at once are
serialised), removes the rows the new selection no longer holds, inserts the new ones
with one INSERT ... SELECT, appends a timeline event and tells the other apps through
`scope_changed`, all in one transaction.
"""

import hashlib
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection, transaction
from django.utils import timezone

from config.services import ServiceError, acting_user
from customers.imports import ImportFileError
from customers.imports.normalize import email_normalize
from customers.imports.readers import table_open
from customers.models import Customer, Segment, SegmentMembership, SourceRecord
from incidents import events
from incidents.models import (
    AffectedCustomer,
    DataCategory,
    ForensicList,
    ForensicListRow,
    Incident,
    ScopeFigures,
    TimelineEvent,
)
from incidents.signals import scope_changed_send

from .obligations import obligations_sync
from .scope_figures import (
    scope_figures_add,
    scope_figures_count_later,
    scope_figures_drop,
    scope_figures_selection_groups,
)
from .timeline import timeline_append

EMAIL_HEADERS = ("email", "e-mail", "mail")
ID_HEADERS = (
    "external_id",
    "external id",
    "id",
    "record id",
    "account id",
    "account_id",
    "contact id",
    "customer id",
    "customer_id",
)
MAX_VALUE_LENGTH = 254


class ScopeError(ServiceError, ValueError):
    """The scope cannot be written as asked; the message names what is wrong."""


@dataclass(frozen=True)
class ScopeChange:
    added: int
    removed: int
    total: int
    forensic_list_id: int | None = None
    unmatched: int = 0


def _table(model: Any) -> str:
    # Raw SQL below interpolates only these quoted table names and "%s" placeholders,
    # never input (hence the S608 waivers); values always travel as parameters.
    return connection.ops.quote_name(model._meta.db_table)


def _locked_incident(incident_id: int) -> Incident:
    try:
        incident = Incident.objects.select_for_update().get(pk=incident_id)
    except Incident.DoesNotExist:
        raise ScopeError(f"Incident {incident_id} does not exist.") from None
    if incident.status == Incident.Status.CLOSED:
        raise ScopeError(f"Incident {incident_id} is closed; its scope can no longer change.")
    return incident


def _clean_categories(incident: Incident, data_categories: Sequence[str] | None) -> list[str]:
    wanted = set(data_categories or incident.data_categories)
    if not wanted:
        raise ScopeError(
            "Name the data categories involved for these customers: none were given and the "
            "incident lists none."
        )
    unknown = sorted(wanted - set(DataCategory.values))
    if unknown:
        raise ScopeError(f"Unknown data categories: {', '.join(unknown)}.")
    # Controlled-list order, so equal sets are stored (and hashed) identically.
    return [c for c in DataCategory.values if c in wanted]


def _scope_write(
    *,
    incident: Incident,
    actor: User | AnonymousUser | None,
    selection_sql: str,
    selection_params: list[Any],
    categories: list[str],
    found_by: str,
    replace: bool,
    description: dict[str, Any],
) -> ScopeChange:
    """Make the incident's scope hold the selection (`SELECT customer_id ...`, no duplicates)."""
    affected = _table(AffectedCustomer)
    json_value = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    categories_json = json.dumps(categories)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    removed = 0
    selection_sql = _survivors_of(selection_sql)
    figures = ScopeFigures.objects.filter(incident=incident).first()
    # A kept scope's total follows every change; counting a million rows here would not.
    before = (
        figures.total if figures else AffectedCustomer.objects.filter(incident=incident).count()
    )
    added_groups = (
        scope_figures_selection_groups(
            incident_id=incident.pk,
            selection_sql=selection_sql,
            selection_params=selection_params,
            categories=categories,
        )
        if figures is not None and not replace
        else None
    )
    with connection.cursor() as cursor:
        if replace and before:
            cursor.execute(
                f"DELETE FROM {affected} WHERE incident_id = %s AND NOT EXISTS (SELECT 1 FROM "  # noqa: S608
                f"({selection_sql}) sel WHERE sel.customer_id = {affected}.customer_id)",
                [incident.pk, *selection_params],
            )
            removed = cursor.rowcount
            # Whoever stays is now described by the new selection's categories.
            cursor.execute(
                f"UPDATE {affected} SET data_categories = {json_value} "  # noqa: S608
                f"WHERE incident_id = %s AND data_categories <> {json_value}",
                [categories_json, incident.pk, categories_json],
            )
        # Only scope services write this incident's rows, under its row lock, and every
        # selection is free of duplicates: a first scope is a plain INSERT ... SELECT. Later
        # ones skip who is already there with ON CONFLICT, not with an anti-join on the
        # table being filled, which PostgreSQL may plan as a nested loop rescanning the
        # rows this very statement inserts (quadratic; seen in benchmarks/scope.py).
        # `WHERE true` keeps SQLite from reading ON CONFLICT as a join constraint.
        skip_existing = (
            " WHERE true ON CONFLICT (incident_id, customer_id) DO NOTHING" if before else ""
        )
        cursor.execute(
            f"INSERT INTO {affected} (incident_id, customer_id, data_categories, found_by, "  # noqa: S608
            f"added_at) SELECT %s, sel.customer_id, {json_value}, %s, %s "
            f"FROM ({selection_sql}) sel{skip_existing}",
            [incident.pk, categories_json, found_by, now, *selection_params],
        )
        added = cursor.rowcount
    total = before - removed + added
    # Before the obligations are synced: they read the counts the page reads.
    if figures is not None and added_groups is not None:
        scope_figures_add(figures=figures, groups=added_groups, total=total)
    elif figures is not None:
        scope_figures_drop(incident_id=incident.pk)
    if total >= settings.KEPT_FIGURES_FROM and (figures is None or added_groups is None):
        scope_figures_count_later(incident_id=incident.pk)
    timeline_append(
        incident_id=incident.pk,
        kind=events.SCOPE_SET,
        actor=actor,
        payload={
            **description,
            "found_by": found_by,
            "data_categories": categories,
            "replace": replace,
            "added": added,
            "removed": removed,
            "total": total,
        },
    )
    user = actor if actor is not None and actor.is_authenticated else None
    scope_changed_send(incident_id=incident.pk, added=added, removed=removed, actor=user)
    if total and incident.scope_identified_at is None:
        # The first scope written is when the people affected were identified: a clock
        # start some state laws name. A DPO may record an earlier time.
        Incident.objects.filter(pk=incident.pk, scope_identified_at__isnull=True).update(
            scope_identified_at=timezone.now()
        )
    # Which regimes apply depends on where the affected customers live.
    obligations_sync(incident_id=incident.pk, actor=actor)
    return ScopeChange(added=added, removed=removed, total=total)


def _survivors_of(selection_sql: str) -> str:
    """The selection with each merged-away customer replaced by the one it was merged into.

    A person found under a record someone merged away is still affected: the survivor
    is. Merges are rare, so the plain selection runs whenever there are none.
    """
    if not Customer.objects.filter(merged_into__isnull=False).exists():
        return selection_sql
    customers = _table(Customer)
    survivor = "COALESCE(c.merged_into_id, c.id)"
    return (
        f"SELECT {survivor} AS customer_id FROM ({selection_sql}) pick "  # noqa: S608
        f"JOIN {customers} c ON c.id = pick.customer_id GROUP BY {survivor}"
    )


def scope_set(
    *,
    incident_id: int,
    actor: User | AnonymousUser | None,
    segment_ids: Sequence[int] = (),
    sources: Sequence[str] = (),
    data_categories: Sequence[str] | None = None,
    replace: bool = True,
) -> ScopeChange:
    """Scope the customers in any of `segment_ids` and known to any of `sources` (both if both).

    With `replace` the scope becomes exactly this selection (rows outside it are removed,
    whoever stays takes `data_categories`); without, the selection is added to the scope.
    `data_categories` default to the incident's own.
    """
    segment_ids = sorted(set(segment_ids))
    sources = sorted({s.strip() for s in sources if s.strip()})
    if not segment_ids and not sources:
        raise ScopeError("Choose at least one segment or source system.")
    with transaction.atomic():
        incident = _locked_incident(incident_id)
        categories = _clean_categories(incident, data_categories)
        missing = set(segment_ids) - set(
            Segment.objects.filter(pk__in=segment_ids).values_list("pk", flat=True)
        )
        if missing:
            raise ScopeError(f"Unknown segments: {', '.join(map(str, sorted(missing)))}.")
        known_sources = set(
            SourceRecord.objects.filter(source__in=sources)
            .values_list("source", flat=True)
            .distinct()
        )
        if set(sources) - known_sources:
            raise ScopeError(
                f"No customer comes from: {', '.join(sorted(set(sources) - known_sources))}."
            )
        selection, params = _criteria_selection(segment_ids, sources)
        return _scope_write(
            incident=incident,
            actor=actor,
            selection_sql=selection,
            selection_params=params,
            categories=categories,
            found_by=(
                AffectedCustomer.FoundBy.SEGMENT if segment_ids else AffectedCustomer.FoundBy.SYSTEM
            ),
            replace=replace,
            description={"segments": segment_ids, "sources": sources},
        )


def _criteria_selection(segment_ids: list[int], sources: list[str]) -> tuple[str, list[int | str]]:
    """SQL selecting the customers in any of the segments and from any of the sources."""
    customers, memberships, records = (
        _table(Customer),
        _table(SegmentMembership),
        _table(SourceRecord),
    )
    if len(segment_ids) == 1 and not sources:
        # A segment holds each customer once: read its membership alone, no join, no dedup.
        sql = f"SELECT m.customer_id FROM {memberships} m WHERE m.segment_id = %s"  # noqa: S608
        return sql, [segment_ids[0]]
    clauses: list[str] = []
    params: list[int | str] = []
    if segment_ids:
        marks = ", ".join(["%s"] * len(segment_ids))
        clauses.append(
            f"EXISTS (SELECT 1 FROM {memberships} m WHERE m.customer_id = c.id "  # noqa: S608
            f"AND m.segment_id IN ({marks}))"
        )
        params += segment_ids
    if sources:
        marks = ", ".join(["%s"] * len(sources))
        clauses.append(
            f"EXISTS (SELECT 1 FROM {records} s WHERE s.customer_id = c.id "  # noqa: S608
            f"AND s.source IN ({marks}))"
        )
        params += sources
    where = " AND ".join(clauses)
    return f"SELECT c.id AS customer_id FROM {customers} c WHERE {where}", params  # noqa: S608


def _pick_column(headers: list[str], column: str | None) -> tuple[int, str]:
    lowered = [h.strip().lower() for h in headers]
    if column:
        if column.strip().lower() not in lowered:
            raise ScopeError(
                f"The list has no column {column!r}; its columns: {', '.join(headers)}."
            )
        index = lowered.index(column.strip().lower())
    else:
        emails = [i for i, h in enumerate(lowered) if any(word in h for word in EMAIL_HEADERS)]
        ids = [i for i, h in enumerate(lowered) if h in ID_HEADERS]
        if not emails and not ids:
            raise ScopeError(
                "The list has no email or external id column (line 1 holds: "
                f"{', '.join(headers) or 'nothing'})."
            )
        index = emails[0] if emails else ids[0]
    kind = (
        ForensicListRow.Kind.EMAIL
        if any(word in lowered[index] for word in EMAIL_HEADERS)
        else ForensicListRow.Kind.EXTERNAL_ID
    )
    return index, kind


FORENSIC_ROWS_PER_INSERT = 5000


def _forensic_rows_write(
    *,
    forensic_list: ForensicList,
    rows: Iterator[tuple[int, int, list[str]]],
    index: int,
    kind: str,
    filename: str,
) -> int:
    """Write the list's lines as they are read, a few thousand at a time; return how many.

    A list of a million lines is never held in memory: only the lines of one INSERT are. A
    bad line raises, and the caller's transaction takes back every line written before it.
    """
    written = 0
    chunk: list[ForensicListRow] = []
    for _row, number, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue
        value = cells[index].strip() if index < len(cells) else ""
        if len(value) > MAX_VALUE_LENGTH:
            raise ScopeError(
                f"{filename} line {number}: the value is longer than {MAX_VALUE_LENGTH} characters."
            )
        normalized = email_normalize(value)[1] if kind == ForensicListRow.Kind.EMAIL else value
        chunk.append(
            ForensicListRow(
                forensic_list=forensic_list,
                line=number,
                value=value,
                value_normalized=normalized,
                kind=kind,
            )
        )
        if len(chunk) == FORENSIC_ROWS_PER_INSERT:
            ForensicListRow.objects.bulk_create(chunk)
            written += len(chunk)
            chunk = []
    ForensicListRow.objects.bulk_create(chunk)
    return written + len(chunk)


def scope_add_forensic_list(
    *,
    incident_id: int,
    actor: User | AnonymousUser | None,
    content: bytes,
    filename: str,
    column: str | None = None,
    data_categories: Sequence[str] | None = None,
    replace: bool = False,
) -> ScopeChange:
    """Scope the customers named in a forensic list (external ids or emails).

    Emails match `Customer.email_normalized` trimmed and case-insensitively; external ids
    match a source record's id when it names exactly one customer. Every line is kept
    with the incident, matched or not, so the unmatched ones can be chased.

    The file is read by the customer import's reader (the same encodings, delimiters and
    zip-bomb and XML-entity protections as a CRM export), row by row: its lines are
    written as they are read, all of them or, when one is refused, none.
    """
    if PurePath(filename).suffix.lower() not in (".xlsx", ".xlsm", ".csv", ".txt"):
        raise ScopeError(f"{filename}: upload a CSV or XLSX file.")
    try:
        with table_open(io.BytesIO(content), name=filename) as table, transaction.atomic():
            if not any(cell.strip() for cell in table.headers):
                raise ScopeError(f"{filename} is empty: the first line must name the columns.")
            index, kind = _pick_column(table.headers, column)
            incident = _locked_incident(incident_id)
            categories = _clean_categories(incident, data_categories)
            forensic_list = ForensicList.objects.create(
                incident=incident,
                filename=PurePath(filename).name[:255],
                sha256=hashlib.sha256(content).hexdigest(),
                column=table.headers[index].strip()[:128],
                uploaded_by=actor if actor is not None and actor.is_authenticated else None,
            )
            lines = _forensic_rows_write(
                forensic_list=forensic_list,
                rows=table.rows,
                index=index,
                kind=kind,
                filename=filename,
            )
            if not lines:
                raise ScopeError(f"{filename} lists no accounts below its header.")
            _forensic_list_match(forensic_list_id=forensic_list.pk, kind=kind)
            matched = ForensicListRow.objects.filter(
                forensic_list=forensic_list, customer__isnull=False
            ).count()
            forensic_list.rows = lines
            forensic_list.matched = matched
            forensic_list.unmatched = lines - matched
            forensic_list.save(update_fields=["rows", "matched", "unmatched"])
            change = _scope_write(
                incident=incident,
                actor=actor,
                selection_sql=(
                    f"SELECT DISTINCT r.customer_id FROM {_table(ForensicListRow)} r "  # noqa: S608
                    "WHERE r.forensic_list_id = %s AND r.customer_id IS NOT NULL"
                ),
                selection_params=[forensic_list.pk],
                categories=categories,
                found_by=AffectedCustomer.FoundBy.FORENSIC_LIST,
                replace=replace,
                description={
                    "forensic_list": forensic_list.pk,
                    "filename": forensic_list.filename,
                    "sha256": forensic_list.sha256,
                    "rows": forensic_list.rows,
                    "matched": matched,
                    "unmatched": forensic_list.unmatched,
                },
            )
    except ImportFileError as error:
        raise ScopeError(f"{filename}: {error}") from error
    return ScopeChange(
        added=change.added,
        removed=change.removed,
        total=change.total,
        forensic_list_id=forensic_list.pk,
        unmatched=forensic_list.unmatched,
    )


def _forensic_list_match(*, forensic_list_id: int, kind: str) -> None:
    """Attach each line to its customer, and say why for the lines that match none."""
    rows, customers, records = _table(ForensicListRow), _table(Customer), _table(SourceRecord)
    with connection.cursor() as cursor:
        if kind == ForensicListRow.Kind.EMAIL:
            cursor.execute(
                f"UPDATE {rows} SET customer_id = (SELECT c.id FROM {customers} c "  # noqa: S608
                f"WHERE c.email_normalized = {rows}.value_normalized) "
                "WHERE forensic_list_id = %s AND value_normalized <> ''",
                [forensic_list_id],
            )
            reason = "no customer has this email"
        else:
            # An id two source systems gave to two different people names nobody for sure.
            cursor.execute(
                f"UPDATE {rows} SET customer_id = (SELECT MIN(s.customer_id) FROM {records} s "  # noqa: S608
                f"WHERE s.external_id = {rows}.value_normalized "
                "HAVING COUNT(DISTINCT s.customer_id) = 1) "
                "WHERE forensic_list_id = %s AND value_normalized <> ''",
                [forensic_list_id],
            )
            reason = "no single customer has this external id"
        cursor.execute(
            f"UPDATE {rows} SET unmatched_reason = CASE WHEN value_normalized = '' "  # noqa: S608
            "THEN 'empty' ELSE %s END WHERE forensic_list_id = %s AND customer_id IS NULL",
            [reason, forensic_list_id],
        )


def _open_incidents_locked(incident_ids: Sequence[int]) -> list[Incident]:
    # In id order, so two merges touching the same incidents cannot deadlock; a closed
    # incident's scope is the record of what was, and stays as it was.
    return list(
        Incident.objects.select_for_update()
        .filter(pk__in=sorted(set(incident_ids)))
        .exclude(status=Incident.Status.CLOSED)
        .order_by("pk")
    )


def scope_customer_merged(
    *, merge_id: int, survivor_id: int, merged_id: int, actor: User | AnonymousUser | None
) -> int:
    """The survivor of a confirmed merge takes the merged-away customer's place in scopes.

    Runs in the merge's transaction. In each open incident holding the merged customer,
    the survivor becomes affected with the union of both people's data categories, the
    merged record leaves, and the timeline says so. Returns how many incidents changed.
    """
    with transaction.atomic():
        incidents = _open_incidents_locked(
            list(
                AffectedCustomer.objects.filter(customer_id=merged_id).values_list(
                    "incident_id", flat=True
                )
            )
        )
        for incident in incidents:
            merged_row = AffectedCustomer.objects.get(incident=incident, customer_id=merged_id)
            survivor_row = AffectedCustomer.objects.filter(
                incident=incident, customer_id=survivor_id
            ).first()
            if survivor_row is None:
                AffectedCustomer.objects.filter(pk=merged_row.pk).update(customer_id=survivor_id)
                categories = list(merged_row.data_categories)
            else:
                wanted = set(survivor_row.data_categories) | set(merged_row.data_categories)
                categories = [c for c in DataCategory.values if c in wanted]
                AffectedCustomer.objects.filter(pk=survivor_row.pk).update(
                    data_categories=categories
                )
                merged_row.delete()
            timeline_append(
                incident_id=incident.pk,
                kind=events.SCOPE_MERGED,
                actor=actor,
                payload={
                    "merge": merge_id,
                    "survivor": survivor_id,
                    "merged": merged_id,
                    "merged_data_categories": list(merged_row.data_categories),
                    "survivor_was_affected": survivor_row is not None,
                    "data_categories": categories,
                },
            )
            user = acting_user(actor)
            added = 0 if survivor_row is not None else 1
            scope_changed_send(incident_id=incident.pk, added=added, removed=1, actor=user)
            # The survivor may live elsewhere than the record it replaces.
            obligations_sync(incident_id=incident.pk, actor=actor)
    return len(incidents)


def scope_customer_unmerged(
    *, merge_id: int, survivor_id: int, merged_id: int, actor: User | AnonymousUser | None
) -> int:
    """Undoing a merge puts the split-off customer back in each scope the merge moved.

    The survivor stays: they may have been told already, and a person who may be
    affected is better told twice than not at all.
    """
    with transaction.atomic():
        moved = {
            event.incident_id: event.payload
            for event in TimelineEvent.objects.filter(
                kind=events.SCOPE_MERGED, payload__merge=merge_id
            )
        }
        incidents = _open_incidents_locked(list(moved))
        for incident in incidents:
            payload = moved[incident.pk]
            categories = payload.get("merged_data_categories") or payload["data_categories"]
            _, created = AffectedCustomer.objects.get_or_create(
                incident=incident,
                customer_id=merged_id,
                defaults={
                    "data_categories": categories,
                    "found_by": AffectedCustomer.objects.filter(
                        incident=incident, customer_id=survivor_id
                    )
                    .values_list("found_by", flat=True)
                    .first()
                    or AffectedCustomer.FoundBy.FORENSIC_LIST,
                },
            )
            timeline_append(
                incident_id=incident.pk,
                kind=events.SCOPE_UNMERGED,
                actor=actor,
                payload={
                    "merge": merge_id,
                    "survivor": survivor_id,
                    "merged": merged_id,
                    "data_categories": categories,
                },
            )
            user = acting_user(actor)
            scope_changed_send(incident_id=incident.pk, added=int(created), removed=0, actor=user)
            obligations_sync(incident_id=incident.pk, actor=actor)
    return len(incidents)
