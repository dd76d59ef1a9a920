"""Write a batch of normalised rows into the customer record, set-wise.

Rows go into a temporary staging table (COPY on PostgreSQL, executemany on SQLite) and
are merged by a handful of statements, whatever the batch size: match by (source,
external id), then by normalised email, else a new customer; one INSERT for the new
customers, one UPDATE for the changed ones, one INSERT ... ON CONFLICT for the source
records. Everything runs inside the caller's transaction, so a job commits all its
batches or none.

The SQL is assembled from constants in this module only (the S608 waivers below); every
value from a file travels as a parameter or through COPY.
"""

import datetime
from collections.abc import Sequence
from typing import Any, NamedTuple

from django.db import connection

from .normalize import CustomerRow

STAGE_COLUMNS = ("row_no", "line", *CustomerRow._fields)
StageRow = tuple[Any, ...]
_EXTERNAL_ID = STAGE_COLUMNS.index("external_id")
_EMAIL_KEY = STAGE_COLUMNS.index("email_normalized")
# COPY's text format: a backslash, tab, newline or carriage return in a value is escaped.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class Batch(NamedTuple):
    """Rows made ready for the staging table, away from the database connection."""

    first_row: int
    # Rows dropped because a later line of the batch has the same external id.
    duplicates: int
    # Whether an email key is on more than one of the rows.
    keys_repeat: bool
    # COPY text for PostgreSQL, the rows themselves for SQLite.
    data: bytes | list[StageRow]
    # Rows staged (after duplicates are dropped).
    size: int


def _copy_text(rows: Sequence[StageRow]) -> bytes:
    """The rows in COPY's text format. Every value is text or a number, none is NULL, and
    none holds a NUL (the normaliser refuses it), so NUL stands in for the tab between
    values until every value has been escaped."""
    lines: list[str] = []
    append = lines.append
    separators = len(STAGE_COLUMNS) - 1
    for row in rows:
        text = "\x00".join([str(row[0]), str(row[1]), *row[2:]])
        if text.count("\x00") != separators:
            raise ValueError(f"row {row[0]}: a value holds a NUL character")
        if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
            text = text.translate(_COPY_ESCAPES)
        append(text)
    lines.append("")
    return "\n".join(lines).replace("\x00", "\t").encode()


_CONSENT_RANK = "max(CASE consent WHEN 'withdrawn' THEN 2 WHEN 'granted' THEN 1 ELSE 0 END)"
# An opt-out recorded on the customer is never undone by an import saying otherwise.
_NEW_CONSENT = (
    "CASE WHEN customers_customer.marketing_consent = 'withdrawn' OR s.consent_rank = 2 "
    "THEN 'withdrawn' WHEN s.consent_rank = 1 THEN 'granted' "
    "ELSE customers_customer.marketing_consent END"
)
_CONSENT_CHANGED = f"{_NEW_CONSENT} <> customers_customer.marketing_consent"
_EMAIL_TAKEN = "s.email_free = 1 OR (s.email_free = 2 AND customers_customer.email_normalized = '')"
# When a row gives a value of each provenance group (the address counts as one); {t} is
# the staging table's alias.
_GIVEN = {
    "email": "{t}email <> ''",
    "phone": "{t}phone <> ''",
    "address": "({t}street <> '' OR {t}postal_code <> '' OR {t}city <> '' "
    "OR {t}region <> '' OR {t}country <> '' OR {t}country_raw <> '')",
}
_PROVENANCE_COLUMNS = ", ".join(
    f"{group}_source, {group}_source_id, {group}_seen_at" for group in _GIVEN
)
# A new customer's provenance: this source, for each group its row gives.
_NEW_PROVENANCE = ", ".join(
    f"CASE WHEN {given} THEN %(source)s ELSE '' END, "
    f"CASE WHEN {given} THEN external_id ELSE '' END, "
    f"CASE WHEN {given} THEN %(now)s END"
    for given in (g.format(t="") for g in _GIVEN.values())
)
_KEEP_UNLESS_GIVEN = ("first_name", "last_name", "language", "lifecycle_stage")
_ADDRESS = ("street", "postal_code", "city", "region")

COUNTS = (
    "created",
    "updated",
    "unchanged",
    "merged",
    "duplicate",
    "email_malformed",
    "email_placeholder",
    "email_shared",
)

LOCK_KEY = 0x62645F637573  # "bd_cus": one advisory lock serialises all customer imports


class Merger:
    """One import's staging area on the current connection; use inside transaction.atomic."""

    def __init__(self, *, source: str, segment_id: int | None, now: datetime.datetime) -> None:
        self.source = source
        self.segment_id = segment_id
        self.now = now
        self.postgres = connection.vendor == "postgresql"
        self.counts = dict.fromkeys(COUNTS, 0)
        # Sources trusted more than this one: a value they gave is not replaced by ours.
        from ..models import SourcePriority

        priorities = dict(SourcePriority.objects.values_list("source", "priority"))
        own = priorities.get(source, 0)
        self.higher = sorted(name for name, rank in priorities.items() if rank > own)

    def _execute(self, sql: str, params: dict[str, Any] | None = None) -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, params or {})
            return cursor.rowcount

    def start(self) -> None:
        if self.postgres:
            # Two imports of overlapping files at once: the second waits here, then sees
            # every customer the first created (READ COMMITTED takes a fresh snapshot
            # per statement), so it matches them instead of duplicating them.
            self._execute("SELECT pg_advisory_xact_lock(%(key)s)", {"key": LOCK_KEY})
            # The staging table is analysed per batch; a small sample is plenty for it.
            self._execute("SET LOCAL default_statistics_target = 10")
            # Compiling a batch's statements would cost more than running them.
            self._execute("SET LOCAL jit = off")
        # Left over when this connection's outer transaction is still open (a caller's
        # atomic block around several imports).
        self._execute(f"DROP TABLE IF EXISTS {self._temp_schema}.bd_stage")
        columns = ", ".join(
            f"{c} bigint" if c in ("row_no", "line") else f"{c} text" for c in STAGE_COLUMNS
        )
        on_commit = " ON COMMIT DROP" if self.postgres else ""
        # `new_id` is the id the row's customer gets if no existing one is found. On
        # PostgreSQL COPY draws it from the customer sequence as the row arrives, which
        # costs a fraction of updating every staged row afterwards (MVCC rewrites each
        # one); a row that matches leaves a gap in the ids, which nothing minds.
        new_id = "new_id bigint"
        if self.postgres:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_get_serial_sequence('customers_customer', 'id')")
                sequence = cursor.fetchone()[0]
            new_id += f" DEFAULT nextval('{sequence}'::regclass)"
        self._execute(
            f"CREATE TEMPORARY TABLE bd_stage ({columns}, customer_id bigint, "
            f"old_hash text, outcome text, {new_id}){on_commit}"
        )

    @property
    def _temp_schema(self) -> str:
        return "pg_temp" if self.postgres else "temp"

    def finish(self) -> None:
        self._execute(f"DROP TABLE IF EXISTS {self._temp_schema}.bd_stage")

    def prepare(self, rows: Sequence[StageRow]) -> Batch | None:
        """Make `rows` ready to merge. Touches no connection: it runs in the thread that
        normalises, so that this Python work overlaps with the merge of the batch before."""
        if not rows:
            return None
        first_row = rows[0][0]
        # The last line for an external id wins; earlier ones are duplicates. Sorted out
        # here, in a dict, rather than by a DELETE over the staged rows.
        latest = {row[_EXTERNAL_ID]: row for row in rows}
        duplicates = len(rows) - len(latest)
        if duplicates:
            rows = list(latest.values())
        keys = [row[_EMAIL_KEY] for row in rows if row[_EMAIL_KEY]]
        data = _copy_text(rows) if self.postgres else list(rows)
        return Batch(first_row, duplicates, len(set(keys)) < len(keys), data, len(rows))

    def _load(self, data: bytes | list[StageRow]) -> None:
        columns = ", ".join(STAGE_COLUMNS)
        with connection.cursor() as cursor:
            # The raw cursor: Django's debug cursor would keep every batch in its query log.
            raw = cursor.cursor
            if isinstance(data, bytes):
                with raw.copy(f"COPY bd_stage ({columns}) FROM STDIN") as copy:
                    copy.write(data)
                raw.execute("ANALYZE bd_stage")
            else:
                marks = ", ".join("?" for _ in STAGE_COLUMNS)
                sql = f"INSERT INTO bd_stage ({columns}) VALUES ({marks})"  # noqa: S608
                raw.executemany(sql, data)

    def merge(self, batch: Batch | None) -> None:
        if batch is None:
            return
        first_row = batch.first_row
        self.counts["duplicate"] += batch.duplicates
        self._load(batch.data)
        p = {"source": self.source, "now": self.now}
        # An address on several ids of this source is shared (a family, an office, a
        # CRM's filler): remembered, so that it joins nobody in this or a later file.
        shared = 0
        if batch.keys_repeat:
            shared = self._execute(
                "INSERT INTO customers_sharedemail (email, source, first_seen_at) "
                "SELECT email_normalized, %(source)s, %(now)s FROM bd_stage "
                "WHERE email_normalized <> '' GROUP BY email_normalized HAVING count(*) > 1 "
                "ON CONFLICT (email) DO NOTHING",
                p,
            )
        self._shared_unkey(p, known_before=not shared)
        # Each staged row looks itself up by index, in a subquery of its own: in the
        # WHERE, so that only rows found are written, and again for the values. A join
        # (or EXISTS, which becomes one) would be planned from the customer tables'
        # statistics, which do not follow them as they grow inside this transaction:
        # taking a million rows for a few hundred, the planner hashed all of them for
        # every batch, and the time grew with the square of the file.
        sr = (
            "FROM customers_sourcerecord sr "
            "WHERE sr.source = %(source)s AND sr.external_id = bd_stage.external_id"
        )
        found = self._execute(
            "UPDATE bd_stage SET (customer_id, old_hash, outcome) = (SELECT sr.customer_id, "  # noqa: S608
            "sr.row_hash, CASE WHEN sr.row_hash = bd_stage.row_hash "
            f"THEN 'unchanged' ELSE 'updated' END {sr}) "
            f"WHERE (SELECT sr.customer_id {sr}) IS NOT NULL",
            p,
        )
        # A person confirmed merged into another is found as that other person.
        by_email = (
            "FROM customers_customer c WHERE c.email_normalized = bd_stage.email_normalized "
            "AND c.email_normalized <> ''"
        )
        found_by_email = self._execute(
            "UPDATE bd_stage SET (customer_id, outcome) = "  # noqa: S608
            f"(SELECT COALESCE(c.merged_into_id, c.id), 'merged' {by_email}) "
            "WHERE customer_id IS NULL AND email_normalized <> '' "
            f"AND (SELECT c.id {by_email}) IS NOT NULL"
        )
        # A customer found by email who already has another id of this source: the
        # address is carried by two of its records, so it is shared, not a match.
        if found_by_email and self._execute(
            "INSERT INTO customers_sharedemail (email, source, first_seen_at) "
            "SELECT email_normalized, %(source)s, %(now)s FROM bd_stage "
            "WHERE outcome = 'merged' AND EXISTS (SELECT 1 FROM customers_sourcerecord sr "
            "WHERE sr.customer_id = bd_stage.customer_id AND sr.source = %(source)s "
            "AND sr.external_id <> bd_stage.external_id) "
            "ON CONFLICT (email) DO NOTHING",
            p,
        ):
            self._shared_unkey(p, known_before=False)
            found_by_email -= self._execute(
                "UPDATE bd_stage SET customer_id = NULL, outcome = NULL "
                "WHERE outcome = 'merged' AND email_normalized = ''"
            )
        found += found_by_email
        # Each statement costs a pass over the batch even when no row is for it: a fresh
        # import has nothing to update, a repeated one nobody new.
        if found < batch.size:
            self._new_customers(p, first_row=first_row)
        if found:
            self._update_customers(p)
        self._execute(
            "INSERT INTO customers_sourcerecord (customer_id, source, external_id, row_hash, "
            "first_seen_at, last_seen_at, email, phone, street, postal_code, city, region, "
            "country) SELECT COALESCE(customer_id, new_id), %(source)s, external_id, row_hash, "
            "%(now)s, %(now)s, email, phone, street, postal_code, city, region, country "
            "FROM bd_stage WHERE outcome IS NULL OR outcome <> 'unchanged' "
            "ON CONFLICT (source, external_id) DO UPDATE SET "
            "row_hash = excluded.row_hash, last_seen_at = excluded.last_seen_at, "
            "email = excluded.email, phone = excluded.phone, street = excluded.street, "
            "postal_code = excluded.postal_code, city = excluded.city, "
            "region = excluded.region, country = excluded.country",
            p,
        )
        if self.segment_id is not None:
            self._execute(
                "INSERT INTO customers_segmentmembership (segment_id, customer_id, added_at) "
                "SELECT %(segment)s, COALESCE(customer_id, new_id), %(now)s FROM bd_stage "
                "GROUP BY COALESCE(customer_id, new_id) "
                "ON CONFLICT (segment_id, customer_id) DO NOTHING",
                {**p, "segment": self.segment_id},
            )
        with connection.cursor() as cursor:
            # A row no customer was found for (no outcome yet) created one.
            cursor.execute(
                "SELECT COALESCE(outcome, 'created'), email_flag, count(*) FROM bd_stage "
                "GROUP BY outcome, email_flag"
            )
            for outcome, flag, count in cursor.fetchall():
                self.counts[outcome] += count
                if flag:
                    self.counts[f"email_{flag}"] += count
        self._execute("TRUNCATE bd_stage" if self.postgres else "DELETE FROM bd_stage")

    def _shared_unkey(self, p: dict[str, Any], *, known_before: bool) -> None:
        """Take shared addresses out of matching, in this batch and on customers."""
        if not known_before:
            # The customer who held the address alone until now loses it as a key too.
            self._execute(
                "UPDATE customers_customer SET email_normalized = '', "
                "email_status = CASE WHEN email_status = 'valid' THEN 'shared' "
                "ELSE email_status END, updated_at = %(now)s "
                "WHERE email_normalized <> '' AND email_normalized IN "
                "(SELECT se.email FROM customers_sharedemail se "
                "JOIN bd_stage s ON s.email_normalized = se.email)",
                p,
            )
        self._execute(
            "UPDATE bd_stage SET email_flag = 'shared', email_normalized = '', "
            "email_status = CASE WHEN email_status = 'valid' THEN 'shared' "
            "ELSE email_status END "
            "WHERE email_normalized <> '' AND email_normalized IN "
            "(SELECT email FROM customers_sharedemail)"
        )

    def _new_customers(self, p: dict[str, Any], first_row: int) -> None:
        # Every row no customer was found for (customer_id still NULL) gets a customer
        # of its own, with the row's new_id. Two rows of one file never share a new
        # customer: same id is a duplicate, same email under two ids of one source is a
        # shared address.
        if not self.postgres:
            # SQLite has one writer at a time (the transaction is IMMEDIATE), so the ids
            # after the highest ever used are ours until commit.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT max(coalesce((SELECT max(id) FROM customers_customer), 0), "
                    "coalesce((SELECT seq FROM sqlite_sequence "
                    "WHERE name = 'customers_customer'), 0))"
                )
                base = cursor.fetchone()[0]
            self._execute(
                f"UPDATE bd_stage SET new_id = {int(base) + 1 - first_row} + row_no "  # noqa: S608
                "WHERE customer_id IS NULL"
            )
        self._execute(
            "INSERT INTO customers_customer (id, first_name, last_name, email, "  # noqa: S608
            "email_normalized, email_status, phone, street, postal_code, city, region, "
            "country, country_raw, language, marketing_consent, consent_updated_at, "
            "consent_source, lifecycle_stage, created_at, updated_at, "
            f"{_PROVENANCE_COLUMNS}) "
            "SELECT new_id, first_name, last_name, email, email_normalized, "
            "email_status, phone, street, postal_code, city, region, country, country_raw, "
            "language, CASE WHEN consent <> '' THEN consent ELSE 'unknown' END, "
            "CASE WHEN consent <> '' THEN %(now)s END, "
            "CASE WHEN consent <> '' THEN %(source)s ELSE '' END, lifecycle_stage, "
            f"%(now)s, %(now)s, {_NEW_PROVENANCE} FROM bd_stage WHERE customer_id IS NULL",
            p,
        )

    def _wins(self, group: str, p: dict[str, Any]) -> str:
        """SQL: the row's value of `group` replaces the customer's (survivorship).

        Most recent wins, so the row does, unless the kept value came from a source of
        higher priority.
        """
        given = _GIVEN[group].format(t="s.")
        if not self.higher:
            return given
        names = []
        for n, name in enumerate(self.higher):
            p[f"higher{n}"] = name
            names.append(f"%(higher{n})s")
        return f"({given} AND customers_customer.{group}_source NOT IN ({', '.join(names)}))"

    def _update_customers(self, p: dict[str, Any]) -> None:
        wins = {group: self._wins(group, p) for group in _GIVEN}
        keep = ", ".join(
            f"{f} = CASE WHEN s.{f} <> '' THEN s.{f} ELSE customers_customer.{f} END"
            for f in _KEEP_UNLESS_GIVEN
        )
        # Within the winning address an empty cell keeps what the record had, as before.
        address = ", ".join(
            f"{f} = CASE WHEN {wins['address']} AND s.{f} <> '' THEN s.{f} "
            f"ELSE customers_customer.{f} END"
            for f in _ADDRESS
        )
        phone = f"phone = CASE WHEN {wins['phone']} THEN s.phone ELSE customers_customer.phone END"
        email_taken = f"({_EMAIL_TAKEN}) AND {wins['email']}"
        provenance = ", ".join(
            f"{group}_source = CASE WHEN {won} THEN %(source)s "
            f"ELSE customers_customer.{group}_source END, "
            f"{group}_source_id = CASE WHEN {won} THEN s.external_id "
            f"ELSE customers_customer.{group}_source_id END, "
            f"{group}_seen_at = CASE WHEN {won} THEN %(now)s "
            f"ELSE customers_customer.{group}_seen_at END"
            for group, won in (
                ("email", email_taken),
                ("phone", wins["phone"]),
                ("address", wins["address"]),
            )
        )
        country_given = f"(s.country <> '' OR s.country_raw <> '') AND {wins['address']}"
        self._execute(
            f"UPDATE customers_customer SET {keep}, {address}, {phone}, {provenance}, "  # noqa: S608
            f"country = CASE WHEN {country_given} THEN s.country "
            "ELSE customers_customer.country END, "
            f"country_raw = CASE WHEN {country_given} THEN s.country_raw "
            "ELSE customers_customer.country_raw END, "
            # An address that is no key (malformed, placeholder, shared) is kept as
            # written where the customer has no usable one, never in place of one.
            f"email = CASE WHEN {email_taken} THEN s.email ELSE customers_customer.email END, "
            f"email_normalized = CASE WHEN s.email_free = 1 AND {wins['email']} "
            "THEN s.email_normalized ELSE customers_customer.email_normalized END, "
            # A bounce sticks to the address that bounced; a new address starts afresh.
            f"email_status = CASE WHEN NOT ({email_taken}) "
            "THEN customers_customer.email_status "
            "WHEN customers_customer.email_status = 'bounced' "
            "AND customers_customer.email_normalized = s.email_normalized THEN 'bounced' "
            "ELSE s.email_status END, "
            f"marketing_consent = {_NEW_CONSENT}, "
            f"consent_updated_at = CASE WHEN {_CONSENT_CHANGED} "
            "THEN %(now)s ELSE customers_customer.consent_updated_at END, "
            f"consent_source = CASE WHEN {_CONSENT_CHANGED} "
            "THEN %(source)s ELSE customers_customer.consent_source END, "
            "updated_at = %(now)s "
            "FROM (SELECT latest.*, CASE WHEN latest.email_normalized <> '' AND NOT EXISTS "
            "(SELECT 1 FROM customers_customer o WHERE o.email_normalized = "
            "latest.email_normalized AND o.id <> latest.customer_id) THEN 1 "
            "WHEN latest.email_normalized = '' AND latest.email <> '' THEN 2 ELSE 0 END "
            "AS email_free FROM (SELECT bd_stage.*, row_number() OVER "
            "(PARTITION BY customer_id ORDER BY row_no DESC) AS rn, "
            f"{_CONSENT_RANK} OVER (PARTITION BY customer_id) AS consent_rank "
            "FROM bd_stage WHERE outcome IN ('updated', 'merged')) AS latest "
            "WHERE rn = 1) AS s WHERE customers_customer.id = s.customer_id",
            p,
        )
