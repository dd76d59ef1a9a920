"""Racing sign-offs on real connections: each thread has its own database connection and
transaction, released together by a barrier."""

import threading

import pytest
from django.db import connection

from config import roles
from notifications import services
from notifications.models import Communication, CommunicationSignOff
from notifications.selectors import communication_content_hash, communication_sign_offs_match
from notifications.services import TransitionRefused

from .delivery_helpers import drafted
from .factories import (
    AffectedCustomerFactory,
    IncidentFactory,
    MessageTemplateFactory,
    TemplateVersionFactory,
)

ROUNDS = 4


def ready_communication() -> Communication:
    incident = IncidentFactory.create()
    AffectedCustomerFactory.create_batch(3, incident=incident, data_categories=["credentials"])
    version = TemplateVersionFactory.create(
        template=MessageTemplateFactory.create(incident=incident), approved=True
    )
    return drafted(incident, [version], name="Notice")


def race(communication: Communication, attempts: list[tuple[object, str]]) -> list[object]:
    content_hash = communication_content_hash(communication=communication)
    barrier = threading.Barrier(len(attempts))
    results: list[object] = [None] * len(attempts)

    def attempt(index: int, actor, role: str) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = services.communication_sign_off(
                communication_id=communication.pk,
                actor=actor,
                role=role,
                content_hash=content_hash,
            )
        except Exception as error:
            results[index] = error
        finally:
            connection.close()

    threads = [
        threading.Thread(target=attempt, args=(i, actor, role))
        for i, (actor, role) in enumerate(attempts)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_a_person_in_both_groups_racing_both_roles_signs_once(make_user):
    both = make_user("both", roles.CMO, roles.CISO)
    for _ in range(ROUNDS):
        communication = ready_communication()
        results = race(communication, [(both, roles.CMO), (both, roles.CISO)])
        signed = [r for r in results if isinstance(r, CommunicationSignOff)]
        refused = [r for r in results if isinstance(r, TransitionRefused)]
        assert (len(signed), len(refused)) == (1, 1), results
        assert "signs once" in str(refused[0]) or "one sign-off each" in str(refused[0])
        active = CommunicationSignOff.objects.filter(
            communication=communication, voided_at__isnull=True
        )
        assert active.count() == 1
        communication.refresh_from_db()
        assert communication.status == Communication.Status.DRAFT
        assert not communication_sign_offs_match(communication_id=communication.pk)


@pytest.mark.django_db(transaction=True)
def test_two_cmos_racing_leave_one_cmo_sign_off_and_the_ciso_completes_it(make_user):
    first, second = make_user("cmo1", roles.CMO), make_user("cmo2", roles.CMO)
    ciso = make_user("ciso", roles.CISO)
    communication = ready_communication()
    results = race(communication, [(first, roles.CMO), (second, roles.CMO), (ciso, roles.CISO)])
    signed = [r for r in results if isinstance(r, CommunicationSignOff)]
    assert sorted(s.role for s in signed) == ["CISO", "CMO"], results
    assert sum(isinstance(r, TransitionRefused) for r in results) == 1
    communication.refresh_from_db()
    assert communication.status == Communication.Status.SIGNED_OFF
    assert communication_sign_offs_match(communication_id=communication.pk)
