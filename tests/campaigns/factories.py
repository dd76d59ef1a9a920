from datetime import UTC, datetime
from typing import Any

import factory
from django.contrib.auth import get_user_model

from campaigns.models import Campaign
from customers.models import Customer, Segment
from incidents.models import Incident
from incidents.services import scope_set
from tests.customers import factories as customer_factories
from tests.customers.factories import SegmentFactory
from tests.incidents import factories as incident_factories


class UserFactory(factory.django.DjangoModelFactory[Any]):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"owner{n}")
    is_staff = True


class CustomerFactory(customer_factories.CustomerFactory):
    first_name = factory.Sequence(lambda n: f"Ada{n}")
    last_name = "Lovelace"
    email = factory.Sequence(lambda n: f"customer{n}@example.org")
    marketing_consent = Customer.Consent.GRANTED
    language = "de"


class IncidentFactory(incident_factories.IncidentFactory):
    nature = "Credential stuffing against the shop login"
    awareness_at = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    data_categories = factory.LazyFunction(list)
    facts_translations = factory.LazyFunction(dict)


class CampaignFactory(factory.django.DjangoModelFactory[Campaign]):
    class Meta:
        model = Campaign
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Winter sale {n}")
    owner = factory.SubFactory(UserFactory)
    subject = "{{ first_name }}, the winter sale is on"
    body = "Hello {{ first_name }} {{ last_name }},\n\n20% off everything in {{ campaign_name }}."

    @factory.post_generation
    def segments(self, create: bool, extracted: list[Segment] | None, **kwargs: object) -> None:
        if create and extracted:
            self.segments.set(extracted)


def segment_with(customers: list[Customer], **kwargs: object) -> Segment:
    segment = SegmentFactory.create(**kwargs)
    segment.memberships.bulk_create(
        [segment.memberships.model(segment=segment, customer=c) for c in customers]
    )
    return segment


def scope_write(incident: Incident, customers: list[Customer], actor: Any = None) -> None:
    """Add these customers to the incident's scope through the incidents app's own service,
    which writes the rows and sends scope_changed in one transaction."""
    segment = segment_with(customers)
    scope_set(
        incident_id=incident.pk,
        actor=actor,
        segment_ids=[segment.pk],
        data_categories=["contact"],
        replace=False,
    )
