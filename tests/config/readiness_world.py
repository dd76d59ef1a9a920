"""A company with known readiness gaps, for the readiness tests (page, PDF, browser).

- 100 customers: 80 speak English, 20 German; 10 have neither a valid email nor a postal
  address (10% unreachable); 5 have not been seen in any import for two years.
- Approved words in English for every data category, none in German.
- Every role held by two active people except the DPO, held by one.
- The last drill ran 400 days ago.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import import_module

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from config import roles
from customers.models import Customer, SourceRecord
from incidents.models import DataCategory, Incident, Regime
from tests.customers.factories import CustomerFactory, SourceRecordFactory
from tests.notifications.factories import MessageTemplateFactory, TemplateVersionFactory

CUSTOMERS = 100
UNREACHABLE = 10
STALE = 5
DRILL_DAYS_AGO = 400
THIN_ROLE = roles.DPO
OLD_DRILL = "Tabletop of last year"


@dataclass
class Company:
    unreachable: list[int]
    drill: Incident


def regimes_ensure() -> None:
    """A test after a transactional one finds the regimes a data migration wrote flushed
    away; write them again, as it did (the rules dimension reads them)."""
    if not Regime.objects.exists():
        import_module("incidents.migrations.0004_seed_regimes").seed(apps, None)


def company_build() -> Company:
    roles.roles_sync()
    regimes_ensure()
    customers = []
    for n in range(CUSTOMERS):
        reachable = n >= UNREACHABLE
        customers.append(
            CustomerFactory.create(
                language="de" if n % 5 == 0 else "en",
                country="US" if n % 4 == 0 else "DE",
                region="CA" if n % 4 == 0 else "",
                email="" if not reachable else f"reader{n}@example.com",
                email_status=Customer.EmailStatus.VALID
                if reachable
                else Customer.EmailStatus.MISSING,
                street="Hauptstr. 1" if reachable else "",
                postal_code="10115",
                city="Berlin" if reachable else "",
            )
        )
    for customer in customers:
        SourceRecordFactory.create(customer=customer)
    old = datetime.now(UTC) - timedelta(days=730)
    SourceRecord.objects.filter(customer__in=customers[-STALE:]).update(last_seen_at=old)
    drill = Incident.objects.create(
        title=OLD_DRILL,
        nature="A tabletop exercise with marketing.",
        is_drill=True,
        awareness_at=datetime.now(UTC) - timedelta(days=DRILL_DAYS_AGO),
    )
    template = MessageTemplateFactory.create(incident=drill, name="Library: English")
    TemplateVersionFactory.create(
        template=template, language="en", data_categories=list(DataCategory.values), approved=True
    )
    users = get_user_model().objects
    for role in roles.ROLES:
        group = Group.objects.get(name=role)
        for i in range(1 if role == THIN_ROLE else 2):
            user = users.create(username=f"{role.lower().replace(' ', '-')}-{i}", is_staff=True)
            user.groups.set([group])
    return Company(unreachable=[c.pk for c in customers[:UNREACHABLE]], drill=drill)
