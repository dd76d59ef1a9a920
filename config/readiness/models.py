"""A daily snapshot of the readiness figures, the recounted customer figures the page reads,
the list behind the "reachable" figures, and the on-call rota."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from config import roles
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


class CustomerFigures(models.Model):
    """One row (pk 1): the figures over the whole customer table, as the last recount found
    them. Counting a million customers takes seconds; the page reads this row instead and
    says how old it is (see `customer_figures_refresh` for when it is recounted)."""

    computed_at = models.DateTimeField()
    # The READINESS_CONTACT_STALE_MONTHS the stale count was taken with: another setting
    # makes the row unusable rather than wrong.
    stale_months = models.PositiveIntegerField()
    stale = models.PositiveIntegerField()
    largest_segment = models.CharField(max_length=200, blank=True)
    largest_segment_size = models.PositiveIntegerField(null=True)
    # [[country, US state, language, total, email, postal, neither], ...]: one entry per
    # group, a few hundred at most (countries x states x languages actually present).
    reach = models.JSONField(default=list)

    class Meta:
        verbose_name_plural = "customer figures"

    def __str__(self) -> str:
        return f"Customer figures as of {self.computed_at:%Y-%m-%d %H:%M}"


class OnCallShift(models.Model):
    """Who answers for a role between two times: the readiness page asks who is on call now,
    role by role."""

    role = models.CharField(max_length=40, choices=[(r, r) for r in roles.ROLES])
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="on_call_shifts"
    )
    starts_at = models.DateTimeField("from")
    ends_at = models.DateTimeField("until")

    class Meta:
        verbose_name = "on-call shift"
        ordering = ["role", "starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="oncallshift_ends_after_start",
            )
        ]
        indexes = [
            # "Who is on call for each role now": role, then the shifts that began before now.
            models.Index(fields=["role", "starts_at", "ends_at"], name="oncallshift_role_now"),
        ]

    def __str__(self) -> str:
        span = f"{self.starts_at:%Y-%m-%d %H:%M} until {self.ends_at:%Y-%m-%d %H:%M}"
        return f"{self.role}: {self.person} from {span}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = "A shift ends after it starts."
        person = self.person if self.person_id else None
        if person is not None and self.role:
            if not person.is_active:
                errors["person"] = f"{person} is not active."
            elif not person.groups.filter(name=self.role).exists():
                errors["person"] = f"{person} does not hold the role {self.role}."
        if errors:
            raise ValidationError(errors)
