"""The customer list's searches are index lookups on PostgreSQL, whatever the table size."""

import pytest
from django.db import connection

from customers.models import Customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_seq_scan():
    if connection.vendor != "postgresql":
        pytest.skip("index choice is checked on PostgreSQL")
    with connection.cursor() as cursor:
        # A tiny test table is cheaper to scan; forbid it to see which index the query can use.
        cursor.execute("SET enable_seqscan = off")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = on")


def test_email_prefix_search_uses_the_pattern_index(no_seq_scan):
    plan = Customer.objects.filter(email_normalized__startswith="ann.l").explain()
    assert "customer_email_prefix_idx" in plan


def test_filters_have_indexes(no_seq_scan):
    assert "customer_email_status_idx" in Customer.objects.filter(email_status="bounced").explain()
    assert (
        "customer_consent_idx" in Customer.objects.filter(marketing_consent="withdrawn").explain()
    )
    assert "customer_country_region_idx" in Customer.objects.filter(country="DE").explain()
