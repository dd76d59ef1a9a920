"""A confirmation page in front of admin actions that send, pause, sign or release.

Like Django's own "delete selected": the first POST shows what the action will touch; only
the second, carrying `confirmed=yes`, runs it. Permissions are those of the wrapped action
(the admin checks them before either step).
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

Action = Callable[[Any, HttpRequest, QuerySet[Any]], HttpResponse | None]


@dataclass(frozen=True)
class Effect:
    """What confirming would do to one object, or why it would be refused."""

    says: str = ""
    refused: str = ""


# Asked per object shown, before the page offers its button.
EffectOf = Callable[[Any, HttpRequest, Any], Effect]

# The page names what it touches; a longer list helps nobody decide.
SHOWN = 50


def confirm_first(
    *, question: str, consequence: str, button: str, effect: EffectOf | None = None
) -> Callable[[Action], Action]:
    """Run the action only after the person confirmed it on a page listing the objects.

    With `effect`, the page says per object what will happen (who is touched, what is
    withheld) or why it would be refused; when every object would be refused it offers no
    button, so nobody confirms something that is then refused.
    """

    def wrap(action: Action) -> Action:
        @functools.wraps(action)
        def confirmed(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
            if request.POST.get("confirmed") == "yes":
                return action(modeladmin, request, queryset)
            objects = list(queryset[: SHOWN + 1])
            effects = (
                [effect(modeladmin, request, obj) for obj in objects[:SHOWN]]
                if effect is not None
                else [Effect() for _ in objects[:SHOWN]]
            )
            refused = [e for e in effects if e.refused]
            return TemplateResponse(
                request,
                "admin/confirm_action.html",
                {
                    **modeladmin.admin_site.each_context(request),
                    "opts": modeladmin.model._meta,
                    "title": question,
                    "consequence": consequence,
                    "button": button,
                    "objects": list(zip(objects[:SHOWN], effects, strict=True)),
                    "all_refused": bool(effects) and len(refused) == len(effects),
                    "some_refused": bool(refused),
                    "more": len(objects) > SHOWN,
                    "action": request.POST.get("action", ""),
                    "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                    "select_across": request.POST.get("select_across", "0"),
                    "checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                },
            )

        return confirmed

    return wrap
