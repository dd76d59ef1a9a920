from datetime import UTC, datetime, timedelta
from typing import Any

import factory
from django.contrib.auth import get_user_model

from incidents.models import AffectedCustomer, Incident
from notifications.models import MessageTemplate, TemplateVersion
from tests.customers import factories as customer_factories
from tests.incidents import factories as incident_factories

# Uses every variable Art. 34(2) requires, in both bodies.
TEXT_BODY = """Dear {{ customer.full_name }},

We are writing about a breach of your data. {{ incident.nature }}

What this may mean for you: {{ incident.likely_consequences }}
What we did: {{ incident.measures_taken }}
What you can do: {{ incident.measures_proposed }}
{% if affected_data %}Your data involved: {{ affected_data|join:", " }}.{% endif %}

Questions? {{ contact_point }}
"""
HTML_BODY = """<p>Dear {{ customer.full_name }},</p>
<p>We are writing about a breach of your data. {{ incident.nature }}</p>
<p>What this may mean for you: {{ incident.likely_consequences }}</p>
<p>What we did: {{ incident.measures_taken }}</p>
<p>What you can do: {{ incident.measures_proposed }}</p>
<p>Questions? {{ contact_point }}</p>
"""
RESET_TEXT = "\nReset your password here: {{ reset_link }}\n"
CODE_TEXT = "\nYour free credit monitoring code: {{ remediation_code }}\n"


def bodies_for(categories: list[str]) -> dict[str, str]:
    extra = ""
    if "credentials" in categories:
        extra += RESET_TEXT
    if {"payment_card", "bank_account"} & set(categories):
        extra += CODE_TEXT
    return {"text_body": TEXT_BODY + extra, "html_body": HTML_BODY + f"<p>{extra}</p>"}


class IncidentFactory(incident_factories.IncidentFactory):
    nature = "Someone copied our customer database."
    awareness_at = factory.LazyFunction(lambda: datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    data_categories = factory.LazyFunction(list)
    contact_point = "privacy@example.com"
    likely_consequences = "You may get phishing emails."
    measures_taken = "We closed the hole and reset all passwords."
    measures_proposed = "Watch out for strange emails."
    # These tests tell people: the DPO decided so (sending waits for the Art. 34 decision).
    art34_decision = Incident.Art34Decision.NOTIFY


class CustomerFactory(customer_factories.CustomerFactory):
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = "Person"
    language = "en"


class AffectedCustomerFactory(factory.django.DjangoModelFactory[AffectedCustomer]):
    class Meta:
        model = AffectedCustomer

    incident = factory.SubFactory(IncidentFactory)
    customer = factory.SubFactory(CustomerFactory)
    data_categories = factory.LazyFunction(lambda: ["credentials"])
    found_by = AffectedCustomer.FoundBy.FORENSIC_LIST


def _reviewer():
    return get_user_model().objects.get_or_create(username="factory-legal")[0]


class MessageTemplateFactory(factory.django.DjangoModelFactory[MessageTemplate]):
    class Meta:
        model = MessageTemplate

    incident = factory.SubFactory(IncidentFactory)
    name = factory.Sequence(lambda n: f"Template {n}")


class TemplateVersionFactory(factory.django.DjangoModelFactory[TemplateVersion]):
    """A version as the services would store it (status and content hash consistent)."""

    class Meta:
        model = TemplateVersion

    template = factory.SubFactory(MessageTemplateFactory)
    number = factory.Sequence(lambda n: n + 1)
    channel = "email"
    language = "en"
    data_categories = factory.LazyFunction(lambda: ["credentials"])
    subject = "About your data"
    text_body = factory.LazyAttribute(lambda o: bodies_for(o.data_categories)["text_body"])
    html_body = factory.LazyAttribute(lambda o: bodies_for(o.data_categories)["html_body"])
    content_hash = factory.LazyAttribute(
        lambda o: TemplateVersion(
            channel=o.channel,
            language=o.language,
            data_categories=o.data_categories,
            subject=o.subject,
            text_body=o.text_body,
            html_body=o.html_body,
        ).compute_content_hash()
    )
    status = TemplateVersion.Status.DRAFT

    class Params:
        approved = factory.Trait(
            status=TemplateVersion.Status.APPROVED,
            reviewed_by=factory.LazyFunction(_reviewer),
            reviewed_at=factory.LazyFunction(lambda: datetime.now(UTC)),
        )


def approved(incident, language, categories, channel="email"):
    template = MessageTemplateFactory.create(incident=incident)
    return TemplateVersionFactory.create(
        template=template,
        language=language,
        data_categories=categories,
        channel=channel,
        subject=f"[{language} {'+'.join(categories)}] About your data,"
        " {{ customer.first_name }}",
        approved=True,
    )


def affected(incident, language, categories, country="DE"):
    customer = CustomerFactory.create(language=language, country=country)
    AffectedCustomerFactory.create(incident=incident, customer=customer, data_categories=categories)
    return customer


def window() -> dict[str, Any]:
    start = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    return {"send_window_start": start, "send_window_end": start + timedelta(hours=10)}
