"""What every breach-message service shares: who acts, and how a refusal reads."""

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from config.services import Actor, ServiceError, acting_user, holds_role

if TYPE_CHECKING:
    from django.contrib.auth.models import User

__all__ = [
    "Actor",
    "TransitionRefused",
    "acting_user",
    "holds_role",
    "sign_off_record",
    "sign_off_signer",
]

_SignOff = TypeVar("_SignOff", bound=models.Model)


class TransitionRefused(ServiceError):
    """A review or sign-off this person may not make, or not in this state."""


def sign_off_signer(*, actor: Actor, role: str, what: str) -> "User":
    """The person signing as `role` (the CMO or the CISO), or a refusal naming why not."""
    from notifications.models import SignOffRole

    if role not in SignOffRole.values:
        raise ValidationError({"role": f"{role!r} does not sign {what}"})
    signer = acting_user(actor)
    if (
        signer is None
        or not holds_role(signer, role)
        or not signer.has_perm("notifications.sign_communication")
    ):
        raise TransitionRefused(f"{actor} is not in the {role} group and cannot sign as {role}.")
    return signer


def sign_off_record(
    *,
    model: type[_SignOff],
    subject: dict[str, Any],
    label: str,
    current: Iterable[Any],
    signer: "User",
    role: str,
    content_hash: str,
) -> _SignOff:
    """Record one of the two sign-offs on `subject` (the model's fields naming what is
    signed). One person signs once, whatever roles they hold; one sign-off per role. The
    checks read `current` (the sign-offs in force), under the caller's row lock; the
    model's partial unique constraints refuse a second one if anything slips past them."""
    for existing in current:
        if existing.user_id == signer.pk:
            raise TransitionRefused(
                f"{signer} already signed {label} as {existing.role}; "
                "one person signs once, whatever roles they hold."
            )
        if existing.role == role:
            raise TransitionRefused(
                f"The {role} has already signed {label}; one sign-off per role."
            )
    try:
        with transaction.atomic():
            return model._default_manager.create(
                **subject,
                role=role,
                user=signer,
                content_hash=content_hash,
                signed_at=timezone.now(),
            )
    except IntegrityError as error:
        raise TransitionRefused(
            f"The {role} or {signer} has already signed {label}; one sign-off each."
        ) from error
