"""A worker whose database connection the server ends reconnects where that is safe."""

import os

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import OperationalError, connection, transaction

from config.db import on_lost_connection_retry

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith("postgres"),
        reason="only a database server can end a session",
    ),
]


def _terminate_our_session() -> None:
    """End this test's connection from another one, as a restart or failover would."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


@transaction.atomic
def _rename_everyone(calls: list[int]) -> int:
    calls.append(1)
    return User.objects.update(first_name="Renamed")


def test_work_is_run_again_on_a_new_connection_after_the_server_ended_the_session():
    User.objects.create_user("a")
    calls: list[int] = []
    _terminate_our_session()

    assert on_lost_connection_retry(lambda: _rename_everyone(calls), what="renaming") == 1

    assert len(calls) == 2
    assert User.objects.get().first_name == "Renamed"


def test_an_error_of_the_query_itself_is_not_retried():
    calls: list[int] = []

    def slow() -> None:
        calls.append(1)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 10")
            cursor.execute("SELECT pg_sleep(1)")

    with pytest.raises(OperationalError, match="statement timeout"):
        on_lost_connection_retry(slow, what="sleeping")
    assert len(calls) == 1


def test_it_gives_up_once_the_reconnect_time_is_spent(settings):
    settings.DATABASE_RECONNECT_SECONDS = 0
    User.objects.create_user("a")
    calls: list[int] = []
    _terminate_our_session()

    with pytest.raises(OperationalError, match="terminating connection"):
        on_lost_connection_retry(lambda: _rename_everyone(calls), what="renaming")
    assert len(calls) == 1
    assert User.objects.get().first_name == ""


def test_inside_a_transaction_it_runs_once_and_leaves_the_error_to_the_caller():
    User.objects.create_user("a")
    calls: list[int] = []

    def rename() -> int:
        calls.append(1)
        return User.objects.update(first_name="Renamed")

    _terminate_our_session()
    with pytest.raises(OperationalError), transaction.atomic():
        on_lost_connection_retry(rename, what="renaming")
    assert len(calls) == 1
    assert User.objects.get().first_name == ""
