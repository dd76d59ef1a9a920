"""Building a signed-off communication the way users do: through the services; sending
its wave and reading what arrived."""

from email.message import Message

from config import roles
from notifications import services
from notifications.models import Communication
from notifications.selectors import communication_content_hash
from notifications.services.delivery import communication_send, delivery_send_batch

from .factories import window


def drafted(incident, versions, *, author=None, channels=("email",), **overrides):
    """A communication of these versions to the incident's affected people, not signed."""
    return services.communication_create(
        incident_id=incident.pk,
        actor=author,
        name=overrides.pop("name", "Breach notice"),
        channels=list(channels),
        fallback_language="en",
        version_ids=[v.pk for v in versions],
        **window(),
        **overrides,
    )


def signed_off_by_new_people(incident, versions, make_user, *, ciso=None):
    """Written by a new marketing operator, signed by a new CMO and CISO (or `ciso`)."""
    return signed_off(
        incident,
        versions,
        author=make_user("mo", roles.MARKETING_OPERATOR),
        cmo=make_user("carla", roles.CMO),
        ciso=ciso or make_user("sven", roles.CISO),
    )


def signed_off(incident, versions, *, author, cmo, ciso, channels=("email",), **overrides):
    communication = drafted(incident, versions, author=author, channels=channels, **overrides)
    for signer, role in ((cmo, "CMO"), (ciso, "CISO")):
        services.communication_sign_off(
            communication_id=communication.pk,
            actor=signer,
            role=role,
            content_hash=communication_content_hash(communication=communication),
        )
    communication.refresh_from_db()
    assert communication.status == Communication.Status.SIGNED_OFF
    return communication


def wave_send(communication, actor) -> None:
    """Send the communication's wave batch after batch, in the test's own process."""
    delivery = communication_send(communication_id=communication.pk, actor=actor)
    for _ in range(20):
        if not delivery_send_batch(delivery_id=delivery.pk).more:
            return
    raise AssertionError("the wave never finished")


def message_parts(message: Message) -> tuple[str, str]:
    """The text and the HTML of a received message, decoded."""
    found = {"text/plain": "", "text/html": ""}
    for part in message.walk():
        if part.get_content_type() in found:
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[part.get_content_type()] = payload.decode(part.get_content_charset() or "utf-8")
    return found["text/plain"], found["text/html"]
