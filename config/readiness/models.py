"""A daily snapshot of the readiness figures, and the list behind the "reachable" figures."""

from django.db import models

from customers.models import Customer


class ReadinessSnapshot(models.Model):
    """The page's figures as they were on one day (taken by the daily housekeeping)."""

    day = models.DateField(unique=True)
    taken_at = models.DateTimeField()
    # {"dimensions": {key: {"checks": n, "gaps": n}}, "reachable": {...}, ...}
    figures = models.JSONField()

    class Meta:
        ordering = ["-day"]
        get_latest_by = "day"

    def __str__(self) -> str:
        return f"Readiness on {self.day:%Y-%m-%d}"


class ContactGap(Customer):
    """The customers behind a "reachable" figure, listed without their contact data."""

    class Meta:
        proxy = True
        verbose_name = "customer reachability"
        verbose_name_plural = "customer reachability"
