"""Who a communication reaches: the audience in SQL, the fan-out of one row per person,
what follow-ups skip."""

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, QuerySet
from django.utils import timezone

from customers.models import Customer, Touchpoint
from incidents.models import AffectedCustomer

from ...models import (
    Communication,
    Notification,
    TemplateVersion,
)
from ...rendering import (
    template_source_problems,
)


def versions_use(versions: Iterable[TemplateVersion], variable: str) -> bool:
    """True when any of the versions renders `variable` somewhere."""
    for version in versions:
        for source in (version.subject, version.text_body, version.html_body):
            _problems, used = template_source_problems(part="", source=source)
            if variable in used:
                return True
    return False


def communication_needs_codes(*, communication: Communication) -> bool:
    """True when any chosen version prints a remediation code: then everyone gets one."""
    return versions_use(communication.versions.all(), "remediation_code")


def _audience_sql(communication: Communication) -> tuple[str, list[Any]]:
    """SELECT of (customer id, email, email_status) for everyone the communication is for.

    The same filters as the who-gets-what matrix, in SQL over the whole set.
    """
    affected = AffectedCustomer._meta.db_table
    customer = Customer._meta.db_table
    where = ["a.incident_id = %s"]
    params: list[Any] = [communication.incident_id]
    if communication.audience_countries:
        where.append(f"c.country IN ({', '.join(['%s'] * len(communication.audience_countries))})")
        params += list(communication.audience_countries)
    categories = list(communication.audience_data_categories)
    if categories:
        if connection.vendor == "postgresql":
            where.append("a.data_categories ?| %s")
            params.append(categories)
        else:
            where.append(
                "EXISTS (SELECT 1 FROM json_each(a.data_categories) j "  # noqa: S608
                f"WHERE j.value IN ({', '.join(['%s'] * len(categories))}))"
            )
            params += categories
    sql = (
        f"SELECT c.id AS customer_id, c.email AS email, c.email_status AS email_status "  # noqa: S608
        f"FROM {affected} a JOIN {customer} c ON c.id = a.customer_id "
        f"WHERE {' AND '.join(where)}"
    )
    return sql, params


def communication_audience_size(*, communication: Communication) -> int:
    sql, params = _audience_sql(communication)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({sql}) audience", params)  # noqa: S608
        return int(cursor.fetchone()[0])


def notifications_fan_out(*, communication: Communication) -> int:
    """One notification per person, in one INSERT ... SELECT; a second run adds nothing.

    Email goes to people whose address is known good; everyone else is down for a letter.
    """
    sql, params = _audience_sql(communication)
    email_ok = "email" in communication.channels
    table = Notification._meta.db_table
    usable = "audience.email_status = 'valid' AND audience.email <> ''" if email_ok else "1 = 0"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (communication_id, customer_id, channel, status, skip_reason, "  # noqa: S608
            "email, attempts, last_error) "
            f"SELECT %s, audience.customer_id, "
            f"CASE WHEN {usable} THEN 'email' ELSE 'letter' END, "
            f"CASE WHEN {usable} THEN 'pending' ELSE 'letter' END, "
            f"'', CASE WHEN {usable} THEN audience.email ELSE '' END, 0, '' "
            f"FROM ({sql}) audience "
            # WHERE 1=1 keeps SQLite from reading ON CONFLICT as a join condition.
            "WHERE 1=1 ON CONFLICT (communication_id, customer_id) DO NOTHING",
            [communication.pk, *params],
        )
        return cursor.rowcount


def _follow_ups_skip(communication: Communication) -> int:
    """Follow-ups respect marketing opt-outs and the frequency cap; breach notices do not."""
    open_rows = Notification.objects.filter(
        communication_id=communication.pk, status=Notification.Status.PENDING
    )
    opted_out = open_rows.filter(customer__marketing_consent=Customer.Consent.WITHDRAWN).update(
        status=Notification.Status.SKIPPED, skip_reason=Notification.SkipReason.OPTED_OUT
    )
    since = timezone.now() - timedelta(days=settings.DELIVERY_FOLLOW_UP_CAP_DAYS)
    busy = (
        Touchpoint.objects.filter(
            occurred_at__gte=since,
            kind__in=[Touchpoint.Kind.PROMOTIONAL, Touchpoint.Kind.FOLLOW_UP],
        )
        .values("customer_id")
        .annotate(n=Count("pk"))
        .filter(n__gte=settings.DELIVERY_FOLLOW_UP_CAP_MESSAGES)
        .values("customer_id")
    )
    capped = open_rows.filter(customer_id__in=busy).update(
        status=Notification.Status.SKIPPED, skip_reason=Notification.SkipReason.FREQUENCY_CAP
    )
    return opted_out + capped


def _audience_skip(communication: Communication, skips: Mapping[str, QuerySet[Any]]) -> int:
    """Skip, for a caller's reason, the open rows of the people its queryset of customer ids
    names (a recovery step's condition); one UPDATE per reason, whatever the audience."""
    skipped = 0
    for reason, customer_ids in skips.items():
        skipped += Notification.objects.filter(
            communication_id=communication.pk,
            status__in=[Notification.Status.PENDING, Notification.Status.LETTER],
            customer_id__in=customer_ids,
        ).update(status=Notification.Status.SKIPPED, skip_reason=reason)
    return skipped
