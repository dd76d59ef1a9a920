"""A confirmation page in front of admin actions that send, pause, sign or release.

Like Django's own "delete selected": the first POST shows what the action will touch; only
the second, carrying `confirmed=yes`, runs it. Permissions are those of the wrapped action
(the admin checks them before either step).
"""

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

Action = Callable[[Any, HttpRequest, QuerySet[Any]], HttpResponse | None]

# The page names what it touches; a longer list helps nobody decide.
SHOWN = 50


def confirm_first(*, question: str, consequence: str, button: str) -> Callable[[Action], Action]:
    """Run the action only after the person confirmed it on a page listing the objects."""

    def wrap(action: Action) -> Action:
        @functools.wraps(action)
        def confirmed(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
            if request.POST.get("confirmed") == "yes":
                return action(modeladmin, request, queryset)
            objects = list(queryset[: SHOWN + 1])
            return TemplateResponse(
                request,
                "admin/confirm_action.html",
                {
                    **modeladmin.admin_site.each_context(request),
                    "opts": modeladmin.model._meta,
                    "title": question,
                    "consequence": consequence,
                    "button": button,
                    "objects": objects[:SHOWN],
                    "more": len(objects) > SHOWN,
                    "action": request.POST.get("action", ""),
                    "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                    "select_across": request.POST.get("select_across", "0"),
                    "checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                },
            )

        return confirmed

    return wrap
