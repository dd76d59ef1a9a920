"""Building a signed-off communication the way users do: through the services."""

from notifications import services
from notifications.models import Communication
from notifications.selectors import communication_content_hash

from .factories import window


def signed_off(incident, versions, *, author, cmo, ciso, channels=("email",), **overrides):
    communication = services.communication_create(
        incident_id=incident.pk,
        actor=author,
        name=overrides.pop("name", "Breach notice"),
        channels=list(channels),
        fallback_language="en",
        version_ids=[v.pk for v in versions],
        **window(),
        **overrides,
    )
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
