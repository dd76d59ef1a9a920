"""Generated from the admin site's registry: for every role without customers.view_pii,
every admin list it can open, every contact field it could reach (directly or through a
foreign key) with every lookup the field knows, and every search term made of contact
data: none narrows the list. URL lookups are refused with a 400; a search for a person's
address, phone or synthetic id answers exactly as one for a person who does not exist."""

from urllib.parse import urlencode

import pytest
from django.contrib import admin
from django.contrib.admin.exceptions import DisallowedModelAdminLookup
from django.contrib.admin.options import IncorrectLookupParameters
from django.db import models
from django.test import Client, RequestFactory
from django.urls import reverse

from config import roles
from config.admin_pii import contact_fields
from customers.models import PiiAccess, SourceRecord
from tests.roles import granted

from .world import world_build

pytestmark = pytest.mark.django_db

# Call-centre agents open no list at all (their one page is the lookup by reference).
WITHOUT_PII = [roles.CMO, roles.CISO, roles.LEGAL_REVIEWER, roles.AUDITOR]
SUFFIXES = sorted(models.CharField.get_lookups())


def _contact_paths(model: type[models.Model], depth: int = 2) -> list[str]:
    """Every path from this model to a contact field along forward relations."""
    contacts = contact_fields()
    paths = []
    for field in model._meta.get_fields():
        if (model._meta.label_lower, field.name) in contacts:
            paths.append(field.name)
        elif depth > 1 and field.many_to_one and isinstance(field.related_model, type):
            paths += [f"{field.name}__{p}" for p in _contact_paths(field.related_model, depth - 1)]
    return paths


def _value(suffix: str, sample: str) -> str:
    return {"isnull": "False", "in": f"{sample},x", "range": f"{sample},{sample}"}.get(
        suffix, sample[:1] if "starts" in suffix else sample
    )


@pytest.fixture
def world(db):
    built = world_build()
    SourceRecord.objects.create(
        customer=built.canary.customer,
        source="csv",
        external_id=f"email:{built.canary.email.lower()}",
        row_hash="0" * 64,
    )
    return built


def _listing(client: Client, url: str, query: dict[str, str]) -> tuple[int, list[int]]:
    response = client.get(f"{url}?{urlencode(query)}")
    if response.status_code != 200:
        return response.status_code, []
    return 200, sorted(obj.pk for obj in response.context["cl"].result_list)


def _found(model_admin, factory: RequestFactory, user, url: str, term: str) -> tuple[int, list]:
    """What the list answers to a search for `term`: its count and the rows it shows."""
    request = factory.get(url, {"q": term})
    request.user = user
    changelist = model_admin.get_changelist_instance(request)
    return changelist.result_count, sorted(obj.pk for obj in changelist.result_list)


def test_the_walk_covers_every_role_without_view_pii():
    without = {
        r
        for r in roles.ROLES
        if "customers.view_pii" not in granted(r, "customers") and r != roles.CALL_CENTRE_AGENT
    }
    assert without == set(WITHOUT_PII)
    assert {"startswith", "regex", "iexact", "contains", "in"} <= set(SUFFIXES)


def test_no_contact_field_narrows_any_list(world, make_user):
    for role in WITHOUT_PII:
        _walk(role, world, make_user)


def _walk(role, world, make_user):
    client = Client()
    user = make_user(role.lower().replace(" ", "-"), role)
    client.force_login(user)
    factory = RequestFactory()
    canary = world.canary
    sample = canary.email.lower()
    walked, refused = 0, []
    for model, model_admin in admin.site._registry.items():
        paths = _contact_paths(model)
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        status, _ = _listing(client, url, {})
        if status != 200:
            continue
        for path in paths:
            # Over HTTP once per field, then every lookup suffix through the admin's own
            # changelist (the same code path, without the middleware's cost per request).
            status, rows = _listing(client, url, {f"{path}__startswith": sample[:1]})
            if status != 400:
                refused.append(f"{url}?{path}__startswith answered {status}, {len(rows)} rows")
            for suffix in ["", *SUFFIXES]:
                lookup = f"{path}__{suffix}" if suffix else path
                request = factory.get(url, {lookup: _value(suffix, sample)})
                request.user = user
                walked += 1
                try:
                    changelist = model_admin.get_changelist_instance(request)
                except DisallowedModelAdminLookup:
                    continue
                except IncorrectLookupParameters:
                    refused.append(f"{url}?{lookup} is an error page, not a refusal")
                    continue
                refused.append(f"{url}?{lookup} lists {changelist.result_count} rows")
        if model_admin.search_fields:
            pairs = [
                (canary.email, "nobody-a1b2c3@nowhere.example.org"),
                (canary.email.split("@")[0], "nobody-a1b2c3"),
                (f"email:{canary.email.lower()}", "email:nobody-a1b2c3@nowhere.example.org"),
                ("+44 7700 900 417", "+44 7700 900 999"),
                ("7700900417", "7700900999"),
                (canary.street, "999999 Nowhere Mews"),
            ]
            # The first pair over HTTP, the others through the admin's own changelist (the
            # same search, without rendering the page twelve times per list).
            known, unknown = pairs[0]
            if _listing(client, url, {"q": known}) != _listing(client, url, {"q": unknown}):
                refused.append(f"{url}?q={known} finds what q={unknown} does not")
            for known, unknown in pairs[1:]:
                if _found(model_admin, factory, user, url, known) != _found(
                    model_admin, factory, user, url, unknown
                ):
                    refused.append(f"{url}?q={known} finds what q={unknown} does not")
    assert walked > 100
    assert refused == [], role
    assert not PiiAccess.objects.filter(user__username=role.lower().replace(" ", "-")).exists()


def test_a_regular_expression_lookup_is_refused_not_a_server_error(world, make_user):
    client = Client()
    client.force_login(make_user("mo", roles.MARKETING_OPERATOR))

    response = client.get(reverse("admin:customers_customer_changelist") + "?email__regex=(")

    assert response.status_code == 400


def test_a_role_with_view_pii_still_filters_by_email(world, make_user):
    client = Client()
    client.force_login(make_user("mo", roles.MARKETING_OPERATOR))
    url = reverse("admin:customers_customer_changelist")

    status, rows = _listing(client, url, {"email_normalized": world.canary.email.lower()})

    assert (status, rows) == (200, [world.canary.customer.pk])


@pytest.mark.parametrize("role", [roles.CISO, roles.AUDITOR])
def test_a_synthetic_id_shows_its_address_masked(role, world, make_user):
    client = Client()
    client.force_login(make_user(role.lower().replace(" ", "-"), role))
    pages = [
        client.get(reverse("admin:customers_sourcerecord_changelist")),
        client.get(reverse("admin:customers_customer_change", args=[world.canary.customer.pk])),
    ]
    local = world.canary.email.split("@")[0].lower()

    for page in pages:
        if page.status_code == 200:
            assert local not in page.content.decode().lower()
