"""The person's history in one place on the customer page."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer, Touchpoint
from customers.selectors import customer_timeline

from .conftest import run_import
from .factories import CustomerFactory, TouchpointFactory

pytestmark = pytest.mark.django_db

SF = "Contact ID,First Name,Last Name,Email,Mailing City\n"


def test_imports_changes_sends_and_letters_read_as_one_history(admin_client):
    run_import((SF + "003A,Ann,Lee,ann@example.com,Leeds\n").encode(), source="salesforce")
    ann = Customer.objects.get()
    # The change comes later than the first import.
    ann.sources.update(first_seen_at=timezone.now() - datetime.timedelta(days=3))
    run_import((SF + "003A,Ann,Lee,ann@example.com,York\n").encode(), source="salesforce")
    now = timezone.now()
    TouchpointFactory(
        customer=ann, kind=Touchpoint.Kind.BREACH_NOTICE, reference="notice-1", occurred_at=now
    )
    TouchpointFactory(
        customer=ann,
        channel=Touchpoint.Channel.LETTER,
        kind=Touchpoint.Kind.BREACH_NOTICE,
        reference="letter-1",
        occurred_at=now + datetime.timedelta(minutes=1),
    )

    entries = customer_timeline(customer_id=ann.pk)
    assert [e.what for e in entries] == [
        "Breach notice by Letter",
        "Breach notice by Email",
        "Changed by an import from salesforce",
        "First imported from salesforce",
    ]

    page = admin_client.get(reverse("admin:customers_customer_change", args=[ann.pk]))
    text = page.content.decode()
    assert "History (newest first)" in text
    assert text.index("Breach notice by Letter") < text.index("First imported from salesforce")


def test_history_takes_a_fixed_number_of_queries(django_assert_num_queries):
    customer = CustomerFactory.create()
    TouchpointFactory.create_batch(6, customer=customer)
    with django_assert_num_queries(3):
        assert len(customer_timeline(customer_id=customer.pk)) == 6
