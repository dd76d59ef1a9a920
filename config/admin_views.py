"""Custom admin views declare the permissions they need, as admin actions do.

`@admin_view_permissions("import")` on a ModelAdmin view method refuses the request
unless every named permission holds: a bare name is the ModelAdmin's
`has_<name>_permission(request)` (as in `@admin.action(permissions=[...])`), a dotted one
("incidents.scope_incident") is the user's Django permission. The declared names stay
on the view (`allowed_permissions`), so tests/config/test_permission_matrix.py can fail
any custom admin URL that declares none.
"""

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import HttpRequest
from django.template.response import TemplateResponse

from config.services import ServiceError

_View = TypeVar("_View", bound=Callable[..., Any])
_Object = TypeVar("_Object")


def admin_view_permissions(*permissions: str) -> Callable[[_View], _View]:
    if not permissions:
        raise ValueError("a custom admin view must name at least one permission")

    def decorate(view: _View) -> _View:
        @wraps(view)
        def guarded(model_admin: Any, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            for name in permissions:
                if "." in name:
                    allowed = request.user.has_perm(name)
                else:
                    allowed = getattr(model_admin, f"has_{name}_permission")(request)
                if not allowed:
                    raise PermissionDenied
            return view(model_admin, request, *args, **kwargs)

        guarded.allowed_permissions = permissions  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services: viewable, never added, edited or deleted here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def error_message(error: Exception) -> str:
    """A service's refusal in words for the page."""
    if isinstance(error, ValidationError):
        return "; ".join(error.messages)
    return str(error)


def each_object_run(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    objects: Iterable[_Object],
    call: Callable[[_Object], object],
    *,
    done: str,
    refusal_level: int = messages.ERROR,
) -> int:
    """What every per-object admin action does: call the service on each selected object,
    then say once how many it did ("3 {done}.") and, one message each, why the others
    were refused. Returns how many succeeded."""
    succeeded, refused = 0, []
    for obj in objects:
        try:
            call(obj)
            succeeded += 1
        except (ServiceError, ValidationError) as error:
            refused.append(error_message(error))
    if succeeded:
        model_admin.message_user(request, f"{succeeded} {done}.", messages.SUCCESS)
    for reason in refused:
        model_admin.message_user(request, reason, refusal_level)
    return succeeded


def form_page(
    request: HttpRequest,
    *,
    opts: Any,
    title: str,
    form: Form,
    template: str = "admin/form_page.html",
    **context: Any,
) -> TemplateResponse:
    """The one page of a custom admin view with one form (templates/admin/form_page.html):
    `opts` names the model of the breadcrumbs; `context` fills the template's optional
    parts (intro, facts, blockers, incident, submit, pending_drill_change). A form with a
    file field is sent as multipart."""
    return TemplateResponse(
        request,
        template,
        {
            **admin.site.each_context(request),
            "opts": opts,
            "title": title,
            "form": form,
            "multipart": any(f.widget.needs_multipart_form for f in form.fields.values()),
            **context,
        },
    )
