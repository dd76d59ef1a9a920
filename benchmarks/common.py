"""Pieces the benchmarks share (not a benchmark: `python -m benchmarks` skips it)."""

import os
import signal
import subprocess

from django.db import connection, models

from customers.models import Customer


def column_value(field: models.Field, named: dict[str, str]) -> str:
    """The SQL expression a generated row gives `field`: `named` by column (over the
    series variable `n`), else a neutral value of its type."""
    if field.column in named:
        return named[field.column]
    if field.null:
        return "NULL"
    if isinstance(field, models.DateTimeField):
        return "now()"
    if isinstance(field, models.BooleanField):
        return "false"
    if isinstance(field, models.IntegerField):
        return "0"
    if isinstance(field, models.JSONField):
        return "'[]'::jsonb"
    return "''"


def customers_insert_sql(named: dict[str, str]) -> str:
    """INSERT ... SELECT of one customer per `n` of generate_series(1, %s)."""
    fields = [f for f in Customer._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    values = ", ".join(column_value(f, named) for f in fields)
    return (
        f"INSERT INTO {Customer._meta.db_table} ({columns}) SELECT {values} "
        "FROM generate_series(1, %s) n"
    )


def process_stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process started in a session of its own (a task cluster, a server) and its
    children: SIGTERM, then SIGKILL after 30 s."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
