from datetime import UTC, datetime

import factory

from customers.models import Customer, Segment, SegmentMembership, SourceRecord
from incidents.models import DataCategory, Incident


class CustomerFactory(factory.django.DjangoModelFactory[Customer]):
    class Meta:
        model = Customer

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    email_normalized = factory.LazyAttribute(lambda c: c.email.strip().lower())
    email_status = Customer.EmailStatus.VALID
    country = "DE"


class SegmentFactory(factory.django.DjangoModelFactory[Segment]):
    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"segment {n}")


class SegmentMembershipFactory(factory.django.DjangoModelFactory[SegmentMembership]):
    class Meta:
        model = SegmentMembership

    segment = factory.SubFactory(SegmentFactory)
    customer = factory.SubFactory(CustomerFactory)


class SourceRecordFactory(factory.django.DjangoModelFactory[SourceRecord]):
    class Meta:
        model = SourceRecord

    customer = factory.SubFactory(CustomerFactory)
    source = "salesforce"
    external_id = factory.Sequence(lambda n: f"ext-{n}")


class IncidentFactory(factory.django.DjangoModelFactory[Incident]):
    class Meta:
        model = Incident

    title = factory.Sequence(lambda n: f"Incident {n}")
    nature = "Credential stuffing against the customer portal"
    awareness_at = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)
    data_categories = factory.LazyFunction(lambda: [DataCategory.CONTACT.value])
    # The facts "written" in the other languages the tests mail in (the same words: tests
    # about translations set their own).
    facts_translations = factory.LazyAttribute(
        lambda o: {
            language: {
                name: getattr(o, name, "")
                for name in (
                    "nature",
                    "contact_point",
                    "likely_consequences",
                    "measures_taken",
                    "measures_proposed",
                )
            }
            for language in ("de", "fr", "es", "it", "nl")
        }
    )
