from datetime import UTC, datetime
from typing import Any

import factory

from incidents.models import DataCategory, Incident
from tests.customers.factories import (
    CustomerFactory,
    SegmentFactory,
    SegmentMembershipFactory,
    SourceRecordFactory,
)

__all__ = [
    "CustomerFactory",
    "IncidentFactory",
    "SegmentFactory",
    "SegmentMembershipFactory",
    "SourceRecordFactory",
]


class IncidentFactory(factory.django.DjangoModelFactory[Incident]):
    """The one incident factory; the other apps' factories subclass it for their facts."""

    class Meta:
        model = Incident

    title: Any = factory.Sequence(lambda n: f"Incident {n}")
    nature: Any = "Credential stuffing against the customer portal"
    awareness_at: Any = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)
    data_categories: Any = factory.LazyFunction(lambda: [DataCategory.CONTACT.value])
    # The facts "written" in the other languages the tests mail in (the same words: tests
    # about translations set their own).
    facts_translations: Any = factory.LazyAttribute(
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
