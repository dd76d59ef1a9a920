"""The kept counts of a large scope (`ScopeFigures`, `ScopeGroup`).

A page that counted a scope of a million people by country, state, language and data
category would join a million rows on every view. From `KEPT_FIGURES_FROM` people on,
the counts are kept instead:

- an addition to the scope adds its own people to the groups, in the scope's transaction
  (counted from the selection before it is inserted: a handful of index lookups for a
  forensic list of five, whatever the scope's size);
- a replacement drops the kept figures in its transaction (pages count live until the
  next count), and the task cluster counts the scope again after the commit;
- the task cluster also counts every kept scope again every few minutes, since an import
  may move a customer to another country or language; `counted_at` says when.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Count, Min, Value, When
from django.db.models.functions import Substr
from django.utils import timezone

from customers.models import Customer
from incidents.models import (
    AffectedCustomer,
    DataCategory,
    Incident,
    ScopeFigures,
    ScopeGroup,
)

# (country, region, zip5, language, categories)
GroupKey = tuple[str, str, str, str, str]


def categories_key(categories: Iterable[str]) -> str:
    """A list of data categories as one string, in the controlled list's order."""
    wanted = set(categories)
    return ",".join(c for c in DataCategory.values if c in wanted)


def _groups_from_rows(rows: Iterable[dict[str, Any]]) -> dict[GroupKey, list[int]]:
    """Group rows (country, region, zip5, language, categories, n, sample) by their key;
    equal category sets stored in another order fall into one group."""
    groups: dict[GroupKey, list[int]] = {}
    for row in rows:
        key = (
            row["country"] or "",
            row["region"] or "",
            row["zip5"] or "",
            row["language"] or "",
            categories_key(row["categories"] or []),
        )
        if key in groups:
            groups[key][0] += row["n"]
            groups[key][1] = min(groups[key][1], row["sample"])
        else:
            groups[key] = [row["n"], row["sample"]]
    return groups


def _live_groups(incident_id: int) -> dict[GroupKey, list[int]]:
    rows = (
        AffectedCustomer.objects.filter(incident_id=incident_id)
        .values(
            "customer__country",
            "customer__region",
            "customer__language",
            "data_categories",
            zip5=Case(
                When(customer__region="", then=Substr("customer__postal_code", 1, 5)),
                default=Value(""),
            ),
        )
        .annotate(n=Count("*"), sample=Min("customer_id"))
        .order_by()
    )
    return _groups_from_rows(
        {
            "country": row["customer__country"],
            "region": row["customer__region"],
            "zip5": row["zip5"],
            "language": row["customer__language"],
            "categories": row["data_categories"],
            "n": row["n"],
            "sample": row["sample"],
        }
        for row in rows
    )


def scope_figures_count(*, incident_id: int) -> ScopeFigures | None:
    """Count the scope again from the customer records and keep the result, or drop the
    kept figures of a scope now under `KEPT_FIGURES_FROM` people. Run by the task cluster."""
    with transaction.atomic():
        # The scope services hold this lock while they change the scope: a count never
        # interleaves with a change.
        Incident.objects.select_for_update().filter(pk=incident_id).first()
        groups = _live_groups(incident_id)
        total = sum(n for n, _sample in groups.values())
        ScopeGroup.objects.filter(incident_id=incident_id).delete()
        if total < settings.KEPT_FIGURES_FROM:
            ScopeFigures.objects.filter(incident_id=incident_id).delete()
            return None
        _groups_write(incident_id, groups)
        now = timezone.now()
        figures, _ = ScopeFigures.objects.update_or_create(
            incident_id=incident_id,
            defaults={"total": total, "counted_at": now, "changed_at": now},
        )
        return figures


def _groups_write(incident_id: int, groups: dict[GroupKey, list[int]]) -> None:
    ScopeGroup.objects.bulk_create(
        [
            ScopeGroup(
                incident_id=incident_id,
                country=country,
                region=region,
                zip5=zip5,
                language=language,
                categories=categories,
                people=people,
                sample_customer_id=sample,
            )
            for (country, region, zip5, language, categories), (people, sample) in groups.items()
        ],
        batch_size=1000,
    )


def scope_figures_selection_groups(
    *,
    incident_id: int,
    selection_sql: str,
    selection_params: Sequence[Any],
    categories: Sequence[str],
) -> dict[GroupKey, list[int]]:
    """The groups of the people a selection would add: those not in the scope yet. Run
    before the INSERT, under the incident's lock, so they are exactly the rows it adds."""
    customer = connection.ops.quote_name(Customer._meta.db_table)
    affected = connection.ops.quote_name(AffectedCustomer._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.country, c.region, "  # noqa: S608 (table names only; values are params)
            "CASE WHEN c.region = '' THEN SUBSTR(c.postal_code, 1, 5) ELSE '' END, "
            f"c.language, COUNT(*), MIN(c.id) FROM ({selection_sql}) sel "
            f"JOIN {customer} c ON c.id = sel.customer_id "
            f"WHERE NOT EXISTS (SELECT 1 FROM {affected} a WHERE a.incident_id = %s "
            "AND a.customer_id = sel.customer_id) GROUP BY 1, 2, 3, 4",
            [*selection_params, incident_id],
        )
        rows = cursor.fetchall()
    return _groups_from_rows(
        {
            "country": country,
            "region": region,
            "zip5": zip5,
            "language": language,
            "categories": categories,
            "n": n,
            "sample": sample,
        }
        for country, region, zip5, language, n, sample in rows
    )


def scope_figures_add(
    *, figures: ScopeFigures, groups: dict[GroupKey, list[int]], total: int
) -> None:
    """Add a change's groups to the kept ones (in the change's transaction)."""
    kept = {
        (g.country, g.region, g.zip5, g.language, g.categories): g
        for g in ScopeGroup.objects.filter(incident_id=figures.incident_id)
    }
    changed = []
    new: dict[GroupKey, list[int]] = {}
    for key, (people, sample) in groups.items():
        group = kept.get(key)
        if group is None:
            new[key] = [people, sample]
            continue
        group.people += people
        group.sample_customer_id = min(group.sample_customer_id, sample)
        changed.append(group)
    ScopeGroup.objects.bulk_update(changed, ["people", "sample_customer_id"], batch_size=1000)
    _groups_write(figures.incident_id, new)
    ScopeFigures.objects.filter(pk=figures.pk).update(total=total, changed_at=timezone.now())


def scope_figures_drop(*, incident_id: int) -> None:
    """Forget the kept figures (a replacement): pages count live until the next count."""
    ScopeGroup.objects.filter(incident_id=incident_id).delete()
    ScopeFigures.objects.filter(incident_id=incident_id).delete()


def scope_figures_count_later(*, incident_id: int) -> None:
    """Ask the task cluster to count the scope once this transaction commits."""

    def enqueue() -> None:
        from django_q.tasks import async_task

        async_task("incidents.tasks.scope_figures_count_task", incident_id)

    transaction.on_commit(enqueue)
