import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test import override_settings

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    # Hashing a password as production does (PBKDF2, a million iterations) costs about a
    # third of a second of CPU, and most tests create a user or sign one in: a fast hasher
    # for the passwords the tests write, PBKDF2 still read (a demo seeded by a child
    # process), as Django's testing documentation advises.
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


# Outside DEBUG a placeholder sender refuses every send: tests mail from a real-looking
# domain (the company profile takes its first sender from this setting).
TEST_SENDER = "Breachdesk Tests <notices@breachdesk-tests.eu>"


@contextmanager
def kept_for_the_module(django_db_blocker) -> Iterator[None]:
    """Database writes of a module-scoped fixture (a world its tests only read).

    They happen in a transaction left open for the module's tests: each test's own
    transaction nests in it as a savepoint, so a test's writes are gone before the next
    test, and the world itself is rolled back after the module's last test.
    """
    with (
        django_db_blocker.unblock(),
        override_settings(DEFAULT_FROM_EMAIL=TEST_SENDER),
        transaction.atomic(),
    ):
        yield
        transaction.set_rollback(True)


@pytest.fixture
def make_user(db):
    """A staff user holding the given roles (group names), never a superuser."""

    def make(username: str = "someone", *roles: str):
        user = get_user_model().objects.create_user(
            username=username, password="a-long-test-password", is_staff=True
        )
        user.groups.set(Group.objects.filter(name__in=roles))
        return user

    return make


@dataclass
class SmtpInbox:
    """What a real SMTP server on loopback received."""

    host: str
    port: int
    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self.lock:
            self.messages.append(message)
        return "250 OK"

    def recipients(self) -> list[str]:
        with self.lock:
            return [m["X-Envelope-To"] for m in self.messages]


@contextmanager
def smtp_serving(handler, settings) -> Iterator[None]:
    """Serve `handler` over SMTP on a free loopback port; Django's SMTP backend uses it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS, settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = False, "", ""
    try:
        yield
    finally:
        controller.stop()


@pytest.fixture
def smtp_server(settings) -> Iterator[SmtpInbox]:
    """An aiosmtpd server on 127.0.0.1; Django's SMTP backend is pointed at it."""
    inbox = SmtpInbox(host="127.0.0.1", port=0)
    with smtp_serving(inbox, settings):
        inbox.port = settings.EMAIL_PORT
        yield inbox


class HoldingInbox:
    """An SMTP server that holds the first message it is given until released."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        if not self.holding.is_set():
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def holding_smtp(settings) -> Iterator[HoldingInbox]:
    """An SMTP server on loopback that keeps the first message waiting for its reply."""
    inbox = HoldingInbox()
    with smtp_serving(inbox, settings):
        yield inbox
        inbox.release.set()


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db["USER"] or "postgres"
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class TaskCluster:
    """django-q2 clusters running as real processes against the test database."""

    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, workers: int = 2, **env: str) -> subprocess.Popen[bytes]:
        """Start one cluster; `env` overrides settings such as Q_RETRY for this cluster."""
        process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env={**self.env, "Q_WORKERS": str(workers), **env},
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        # SIGKILL, not SIGTERM: on SIGTERM django-q2's sentinel waits up to Q_TIMEOUT for its
        # workers, 20 s per test. The test has checked what the cluster wrote by now, and the
        # database rolls back whatever a killed worker left open.
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        for process in self.processes:
            process.wait()
        self.processes.clear()


@pytest.fixture
def task_cluster(transactional_db, settings) -> Iterator[TaskCluster]:
    """Start real `qcluster` processes (call .start()) on the test database; all stop after.

    The test must use transactional_db (this fixture requests it) so that what it writes
    is committed and visible to the cluster's own connections.
    """
    env = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": _database_url(),
        "PYTHONPATH": str(ROOT),
        "TIMELINE_CHECKPOINT_DIR": str(settings.TIMELINE_CHECKPOINT_DIR),
    }
    env.pop("REDIS_URL", None)
    if settings.EMAIL_BACKEND.endswith("smtp.EmailBackend"):
        # Request smtp_server before task_cluster so the cluster mails to it.
        env["EMAIL_URL"] = f"smtp://{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    cluster = TaskCluster(env=env)
    yield cluster
    cluster.stop()


def wait_until(predicate, *, timeout: float = 60, interval: float = 0.2, message: str = "") -> None:
    """Poll until `predicate()` is true; fail the test with `message` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    pytest.fail(message or f"condition not met within {timeout}s")


@pytest.fixture(autouse=True, scope="module")
def _module_timeline_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """What a module's shared world checkpoints stays with that module: an incident of
    another module's world, with the same id, must not be held against it."""
    with override_settings(TIMELINE_CHECKPOINT_DIR=tmp_path_factory.mktemp("checkpoints")):
        yield


@pytest.fixture(autouse=True)
def timeline_checkpoints(settings: Any, tmp_path: Path) -> Path:
    """Each test keeps its timeline checkpoints (outside the database) to itself: another
    test's incident with the same id must not be held against them."""
    settings.TIMELINE_CHECKPOINT_DIR = tmp_path / "timeline-checkpoints"
    return settings.TIMELINE_CHECKPOINT_DIR


@pytest.fixture(autouse=True)
def company_sender(settings: Any) -> None:
    """Outside DEBUG a placeholder sender refuses every send: tests mail from a real-looking
    domain (the company profile takes its first sender from this setting)."""
    settings.DEFAULT_FROM_EMAIL = TEST_SENDER


def run_queued_tasks(*, limit: int = 200) -> int:
    """Run what was handed to the task queue (the ORM broker), in order, as a worker would,
    including what those tasks hand on; return how many ran."""
    from django.utils.module_loading import import_string
    from django_q.models import OrmQ

    ran = 0
    while (row := OrmQ.objects.order_by("id").first()) is not None:
        task = row.task
        row.delete()
        func = import_string(task["func"]) if isinstance(task["func"], str) else task["func"]
        func(*task.get("args", ()), **task.get("kwargs", {}))
        ran += 1
        assert ran < limit, "the queue never ran dry"
    return ran
