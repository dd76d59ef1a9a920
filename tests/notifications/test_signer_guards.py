"""The database keeps who reviewed a version and who signed a communication off."""

import pytest
from django.db import DatabaseError, connection, transaction

from notifications.models import CommunicationSignOff, TemplateVersion

from .delivery_helpers import signed_off
from .factories import IncidentFactory, affected, approved

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL triggers"),
]


@pytest.fixture
def signed(marketing, cmo, ciso):
    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"])
    affected(incident, "en", ["credentials"])
    return version, signed_off(incident, [version], author=marketing, cmo=cmo, ciso=ciso)


def test_an_update_cannot_rewrite_who_reviewed_a_version(signed, make_user):
    version, _ = signed
    other = make_user("mallory")

    with pytest.raises(DatabaseError, match="recorded once"), transaction.atomic():
        TemplateVersion.objects.filter(pk=version.pk).update(reviewed_by=other)

    assert TemplateVersion.objects.get(pk=version.pk).reviewed_by_id == version.reviewed_by_id


def test_an_update_cannot_rewrite_who_signed_but_a_void_goes_through(signed, make_user):
    _, communication = signed
    sign_off = CommunicationSignOff.objects.filter(communication=communication).first()
    assert sign_off is not None

    with pytest.raises(DatabaseError, match="keeps its signer"), transaction.atomic():
        CommunicationSignOff.objects.filter(pk=sign_off.pk).update(user=make_user("mallory"))

    CommunicationSignOff.objects.filter(pk=sign_off.pk).update(void_reason="changed")
    assert CommunicationSignOff.objects.get(pk=sign_off.pk).user_id == sign_off.user_id
