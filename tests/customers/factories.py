import factory
from django.utils import timezone

from customers.models import (
    Customer,
    ImportMapping,
    Segment,
    SegmentMembership,
    SourceRecord,
    Touchpoint,
)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    email_normalized = factory.LazyAttribute(lambda o: o.email.strip().casefold())
    email_status = Customer.EmailStatus.VALID
    country = "DE"


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
