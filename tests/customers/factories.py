from typing import Any

import factory
from django.utils import timezone

from customers.imports.normalize import email_normalize
from customers.models import (
    Customer,
    ImportMapping,
    Segment,
    SegmentMembership,
    SourceRecord,
    Touchpoint,
)


class CustomerFactory(factory.django.DjangoModelFactory[Customer]):
    """The one customer factory: the matching key and the email status come from the
    import's own normalisation, so a test's customer is what an import would have written.
    The other apps' factories subclass it for their own defaults."""

    class Meta:
        model = Customer

    first_name: Any = factory.Faker("first_name")
    last_name: Any = factory.Faker("last_name")
    email: Any = factory.Sequence(lambda n: f"person{n}@example.com")
    email_normalized: Any = factory.LazyAttribute(lambda o: email_normalize(o.email)[1])
    email_status: Any = factory.LazyAttribute(
        lambda o: Customer.EmailStatus(email_normalize(o.email)[2])
    )
    country: Any = "DE"


class SourceRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SourceRecord

    customer = factory.SubFactory(CustomerFactory)
    source = "salesforce"
    external_id = factory.Sequence(lambda n: f"003{n:015d}")


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"Segment {n}")


class SegmentMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SegmentMembership

    segment = factory.SubFactory(SegmentFactory)
    customer = factory.SubFactory(CustomerFactory)


class TouchpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Touchpoint

    customer = factory.SubFactory(CustomerFactory)
    channel = Touchpoint.Channel.EMAIL
    kind = Touchpoint.Kind.PROMOTIONAL
    occurred_at = factory.LazyFunction(timezone.now)
    reference = factory.Sequence(lambda n: f"campaign-{n}")


class ImportMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImportMapping

    name = factory.Sequence(lambda n: f"Mapping {n}")
    source = "webshop"
    columns = factory.LazyFunction(lambda: {"external_id": "Id", "email": "Mail"})
