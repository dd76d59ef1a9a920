"""What every breach-message service shares: who acts, and how a refusal reads."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User

Actor = User | AbstractBaseUser | AnonymousUser | None


class TransitionRefused(Exception):
    """A review or sign-off this person may not make, or not in this state."""


def holds_role(actor: Actor, role: str) -> bool:
    # Roles are groups: superuser status grants no role.
    return isinstance(actor, User) and actor.is_active and actor.groups.filter(name=role).exists()


def acting_user(actor: Actor) -> User | None:
    return actor if isinstance(actor, User) and actor.is_authenticated else None
