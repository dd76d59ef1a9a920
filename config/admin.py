"""Third-party admins whose actions declare no permission get one here.

django-q2's "resubmit" and django-axes' "clean up" actions are offered to anyone who can
open their lists; every action in Breachdesk names the permission it needs
(tests/config/test_permission_matrix.py fails otherwise).
"""

from typing import Any

from axes.admin import AccessAttemptAdmin  # type: ignore[import-untyped]
from axes.models import AccessAttempt  # type: ignore[import-untyped]
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django_q.admin import FailAdmin, TaskAdmin, resubmit_task
from django_q.models import Failure, Success


@admin.action(description="Resubmit selected tasks to queue", permissions=["change"])
def task_resubmit(model_admin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> None:
    resubmit_task(model_admin, request, queryset)


class GatedTaskAdmin(TaskAdmin):
    actions = [task_resubmit]


class GatedFailAdmin(FailAdmin):
    actions = [task_resubmit]


class GatedAccessAttemptAdmin(AccessAttemptAdmin):
    actions = ["cleanup_expired_attempts"]

    @admin.action(description="Clean up expired attempts", permissions=["delete"])
    def cleanup_expired_attempts(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        super().cleanup_expired_attempts(request, queryset)


for model, model_admin in (
    (Success, GatedTaskAdmin),
    (Failure, GatedFailAdmin),
    (AccessAttempt, GatedAccessAttemptAdmin),
):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)


# The company profile: one row, changed through its service so every change is recorded.
from config.company_admin import CompanyProfileAdmin  # noqa: E402
from config.models import CompanyProfile  # noqa: E402

admin.site.register(CompanyProfile, CompanyProfileAdmin)
