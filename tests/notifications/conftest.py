import pytest
from django.core import mail

from config import roles
from notifications.models import Notification
from notifications.services.delivery import communication_send, delivery_send_batch

from .delivery_helpers import signed_off
from .factories import IncidentFactory, affected, approved


@pytest.fixture
def marketing(make_user):
    return make_user("mo", roles.MARKETING_OPERATOR)


@pytest.fixture
def legal(make_user):
    return make_user("lena", roles.LEGAL_REVIEWER)


@pytest.fixture
def cmo(make_user):
    return make_user("carla", roles.CMO)


@pytest.fixture
def ciso(make_user):
    return make_user("sven", roles.CISO)


@pytest.fixture
def scenario(db):
    """Affected people in three languages and two data categories, with a version for most
    combinations and English as the fallback."""
    incident = IncidentFactory.create()
    v = {
        "en-pw": approved(incident, "en", ["credentials"]),
        "de-pw": approved(incident, "de", ["credentials"]),
        "fr-pw": approved(incident, "fr", ["credentials"]),
        "en-card": approved(incident, "en", ["payment_card"]),
        "de-card": approved(incident, "de", ["payment_card"]),
        "en-both": approved(incident, "en", ["credentials", "payment_card"]),
    }
    people = {
        "en-pw": affected(incident, "en", ["credentials"], "GB"),
        "de-pw": affected(incident, "de-DE", ["credentials"]),
        "fr-pw": affected(incident, "FR", ["credentials"], "FR"),
        "en-card": affected(incident, "en", ["payment_card"], "GB"),
        "de-card": affected(incident, "de", ["payment_card"]),
        "fr-card": affected(incident, "fr", ["payment_card"], "FR"),
        "de-both": affected(incident, "de", ["payment_card", "credentials"]),
        "none-pw": affected(incident, "", ["credentials"]),
    }
    return incident, v, people


@pytest.fixture
def wave(settings, marketing, cmo, ciso):
    """Five people mailed through a provider (anymail's test backend): the communication
    and their notifications, in the order they were made."""
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    mail.outbox = []
    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"])
    people = [affected(incident, "en", ["credentials"]) for _ in range(5)]
    communication = signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso)
    delivery = communication_send(communication_id=communication.pk, actor=cmo)
    while delivery_send_batch(delivery_id=delivery.pk).more:
        pass
    rows = {
        r.customer_id: r
        for r in Notification.objects.filter(communication=communication).select_related("customer")
    }
    return communication, [rows[p.pk] for p in people]
