"""Work that must outlive a dropped database connection (a restart, a failover).

Django opens a new connection on the next query once the broken one is closed; these
helpers do that at the points where giving up would cost more than a short wait: after an
SMTP server has accepted a batch, failing to record it would send the batch again.
"""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)
T = TypeVar("T")


# SQLSTATEs of a session the server ended: connection exceptions (class 08) and an
# administrator's or a crash's shutdown (57P01-57P03), as in a restart or a failover.
LOST_SQLSTATES = ("08", "57P01", "57P02", "57P03")


def connection_lost(error: BaseException) -> bool:
    """Whether `error` came from a connection the server closed, not from the query.

    Only PostgreSQL runs on a server that can go away; SQLite's errors are the query's.
    """
    if not isinstance(error, OperationalError | InterfaceError):
        return False
    if connection.vendor != "postgresql":
        return False
    if error.__cause__ is None:
        return False
    sqlstate = getattr(error.__cause__, "sqlstate", None)
    # No SQLSTATE at all: no answer came back, the socket itself is gone.
    return sqlstate is None or sqlstate.startswith(LOST_SQLSTATES)


def on_lost_connection_retry(work: Callable[[], T], *, what: str) -> T:
    """Run `work`; when the server drops the connection, reconnect and run it again.

    `work` must be one transaction that is safe to run twice. Waits grow from one second
    up to DATABASE_RECONNECT_SECONDS in all, then the error is raised. Inside an open
    transaction `work` runs once: a connection lost there cannot be replaced.
    """
    if connection.in_atomic_block:
        return work()
    deadline = time.monotonic() + settings.DATABASE_RECONNECT_SECONDS
    pause = 1.0
    while True:
        try:
            return work()
        except (OperationalError, InterfaceError) as error:
            if not connection_lost(error) or time.monotonic() + pause > deadline:
                raise
            logger.warning("database connection lost while %s; reconnecting", what)
            connection.close()
            time.sleep(pause)
            pause *= 2
