"""The one PII rule for admin lists: roles without `customers.view_pii` cannot narrow a
list by contact data, whether by URL lookup, filter or search.

Masking the column is not enough: `?email_normalized__startswith=a` one character at a
time reads a masked address back, and a search that finds or misses a person tells
whether that address is in the breach. Apps name their contact fields in their AppConfig
(`contact_fields = {"Customer": ("email", ...)}`); every lookup path reaching one of them,
through any relation, is refused with a 400 for those roles. Regular expression lookups
are refused for everyone: a bad pattern is a database error, not a filter.
"""

from functools import cache
from typing import Any

from django.apps import apps
from django.contrib.admin.options import ModelAdmin
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest

VIEW_PII = "customers.view_pii"
REFUSED_LOOKUPS = frozenset({"regex", "iregex"})


@cache
def contact_fields() -> frozenset[tuple[str, str]]:
    """(app_label.modelname, field name) of every field declared as contact data."""
    found: set[tuple[str, str]] = set()
    for config in apps.get_app_configs():
        for model_name, names in getattr(config, "contact_fields", {}).items():
            model = config.get_model(model_name)
            found.update((model._meta.label_lower, name) for name in names)
    return frozenset(found)


def reaches_contact_field(model: type[Model], path: str) -> bool:
    """Whether a lookup or search path (`customer__email_normalized__startswith`,
    `=email`) ends on a contact field, through whatever relations it follows."""
    current: Any = model
    for part in path.lstrip("=^@").split(LOOKUP_SEP):
        try:
            field = current._meta.get_field(part)
        except FieldDoesNotExist:
            return False
        # A proxy (readiness' ContactGap is a Customer) holds its concrete model's data.
        if (current._meta.concrete_model._meta.label_lower, field.name) in contact_fields():
            return True
        if not field.is_relation or field.related_model is None:
            return False
        current = field.related_model
    return False


def can_view_pii(user: Any) -> bool:
    return bool(user is not None and user.has_perm(VIEW_PII))


class PiiListRule(ModelAdmin):
    """Mix into every ModelAdmin whose list reaches people (before `admin.ModelAdmin`)."""

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        parts = lookup.split(LOOKUP_SEP)
        if REFUSED_LOOKUPS.intersection(parts):
            return False
        if (
            request is not None
            and not can_view_pii(request.user)
            and reaches_contact_field(self.model, lookup)
        ):
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_search_fields(self, request: HttpRequest) -> Any:
        fields = super().get_search_fields(request)
        if can_view_pii(request.user):
            return fields
        return [f for f in fields if not reaches_contact_field(self.model, f)]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        # An address in any searched field (a synthetic id "email:<address>" included)
        # would answer whether that person is on the list.
        if not can_view_pii(request.user) and "@" in search_term:
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)
