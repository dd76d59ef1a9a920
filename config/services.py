"""What every service shares: who acts, how a refusal reads, how work reaches the cluster.

- `Actor`: the person behind a service call (a user, an anonymous visitor, or nobody for
  the task cluster); `holds_role` asks whether they hold a role (a group: superuser status
  grants none).
- `ServiceError`: the base of every refusal a service raises for a person to read. Admin
  views catch this one class and show its message where the person is.
- `enqueue_on_commit`: hand a task to the cluster once the transaction that made its
  rows commits, so a worker never looks for rows that are not there yet, and a rolled-back
  change enqueues nothing.

Safe to import before the app registry is ready: the auth models are named for the type
checker only, and looked up when a role is asked.
"""

from typing import TYPE_CHECKING, Any, TypeAlias

from django.db import transaction

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User

    Actor: TypeAlias = User | AbstractBaseUser | AnonymousUser | None
else:
    Actor = object  # annotations only; the type checker reads the union above


class ServiceError(Exception):
    """A service refused: the message says why, in the words of the person acting."""


def holds_role(actor: Actor, role: str) -> bool:
    from django.contrib.auth.models import User

    return isinstance(actor, User) and actor.is_active and actor.groups.filter(name=role).exists()


def acting_user(actor: Actor) -> "User | None":
    from django.contrib.auth.models import User

    return actor if isinstance(actor, User) and actor.is_authenticated else None


def enqueue_on_commit(task: str, *args: Any, times: int = 1, **options: Any) -> None:
    """Queue `task(*args)` `times` times when the current transaction commits.

    `options` are django-q2's (`group`, `q_options`, ...). Outside a transaction the task
    is queued at once, as `transaction.on_commit` does.
    """

    def enqueue() -> None:
        from django_q.tasks import async_task

        for _ in range(times):
            async_task(task, *args, **options)

    transaction.on_commit(enqueue)
