"""A drill's breach messages reach only the drill addresses, over real SMTP, marked as a
drill; without drill addresses nothing is sent, and no letter is ever printed."""

import pytest

from notifications.models import Notification
from notifications.services.delivery import DeliveryError, communication_send
from notifications.services.letters import LetterError, letter_batch_create

from .delivery_helpers import signed_off
from .factories import IncidentFactory, affected, approved
from .test_delivery import send_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def drill(db, marketing, cmo, ciso):
    incident = IncidentFactory.create(is_drill=True, title="Tabletop with marketing")
    version = approved(incident, "en", ["credentials"])
    customers = [affected(incident, "en", ["credentials"]) for _ in range(3)]
    communication = signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso)
    return incident, customers, communication


def test_a_drill_mails_only_the_drill_addresses_and_says_whom_it_stood_for(
    smtp_server, settings, drill, cmo
):
    settings.DRILL_RECIPIENTS = ["drill-desk@corp.example", "soc@corp.example"]
    _, customers, communication = drill

    send_all(communication_send(communication_id=communication.pk, actor=cmo))

    assert len(smtp_server.messages) == len(customers)
    assert set(smtp_server.recipients()) == {"drill-desk@corp.example, soc@corp.example"}
    stood_for = sorted(m["X-Breachdesk-Drill-Intended-For"] for m in smtp_server.messages)
    assert stood_for == sorted(c.email for c in customers)
    assert all(m["Subject"].startswith("[DRILL] ") for m in smtp_server.messages)
    assert all(m["X-Breachdesk-Drill"] == "yes" for m in smtp_server.messages)
    assert Notification.objects.filter(status=Notification.Status.SENT).count() == 3


def test_a_drill_without_drill_addresses_is_not_sent_at_all(smtp_server, settings, drill, cmo):
    settings.DRILL_RECIPIENTS = []
    _, _, communication = drill

    with pytest.raises(DeliveryError, match="DRILL_RECIPIENTS is empty"):
        communication_send(communication_id=communication.pk, actor=cmo)

    assert not Notification.objects.exists()
    assert smtp_server.messages == []


def test_a_real_incident_still_mails_its_people(smtp_server, settings, marketing, cmo, ciso):
    settings.DRILL_RECIPIENTS = ["drill-desk@corp.example"]
    incident = IncidentFactory.create(is_drill=False)
    version = approved(incident, "en", ["credentials"])
    customers = [affected(incident, "en", ["credentials"]) for _ in range(3)]
    communication = signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso)

    send_all(communication_send(communication_id=communication.pk, actor=cmo))

    assert sorted(smtp_server.recipients()) == sorted(c.email for c in customers)
    assert all(m["X-Breachdesk-Drill"] is None for m in smtp_server.messages)


def test_a_drills_letters_are_never_printed(settings, drill, cmo, make_user):
    from config import roles

    settings.DRILL_RECIPIENTS = ["drill-desk@corp.example"]
    _, _, communication = drill
    communication_send(communication_id=communication.pk, actor=cmo)

    with pytest.raises(LetterError, match="drill"):
        letter_batch_create(
            communication_id=communication.pk,
            paper_size="A4",
            actor=make_user("mo2", roles.MARKETING_OPERATOR),
        )
