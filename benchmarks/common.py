"""What several benchmarks share: generated customer rows in SQL, for generate_series."""

from django.db import models


def customer_value_sql(field: models.Field, named: dict[str, str]) -> str:
    """SQL for one column of a generated customer row (n = the series value): the value
    `named` gives its column, else NULL where allowed, else a neutral value of its type."""
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
