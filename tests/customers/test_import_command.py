import io
import json

import pytest
from django.core.management import CommandError, call_command

from customers.models import Customer, ImportJob

from .conftest import SAMPLES, SHOP_MAPPING
from .factories import ImportMappingFactory

pytestmark = pytest.mark.django_db


def call(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_customers", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_imports_and_reports_counts():
    out, _ = call(str(SAMPLES / "salesforce_contacts.csv"), "--source", "salesforce")
    assert "30 rows, 30 created" in out
    assert Customer.objects.count() == 30


def test_command_says_when_nothing_changed():
    call(str(SAMPLES / "zoho_contacts.csv"), "--source", "zoho")
    out, _ = call(str(SAMPLES / "zoho_contacts.csv"), "--source", "zoho")
    assert "Nothing changed" in out


def test_command_with_mapping_file_lists_rejected_rows(tmp_path):
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(SHOP_MAPPING))
    out, err = call(
        str(SAMPLES / "shop_kunden.csv"), "--source", "webshop", "--mapping", str(mapping)
    )
    assert "18 created" in out and "2 rejected" in out
    assert "row 1 (line 2), external_id: neither an external id nor an email" in err


def test_command_with_saved_mapping_by_name():
    ImportMappingFactory(name="shop", columns=SHOP_MAPPING)
    out, _ = call(str(SAMPLES / "shop_kunden.csv"), "--source", "webshop", "--mapping", "shop")
    assert "18 created" in out


def test_command_dry_run_writes_nothing():
    out, _ = call(str(SAMPLES / "hubspot_contacts.csv"), "--source", "hubspot", "--dry-run")
    assert out.startswith("dry run, nothing written")
    assert "20 created" in out
    assert not Customer.objects.exists()


def test_command_with_layout_forces_it():
    out, _ = call(str(SAMPLES / "zoho_contacts.csv"), "--source", "zoho", "--layout", "zoho")
    assert "(zoho)" in out


def test_command_refuses_unknown_layout_with_the_columns():
    with pytest.raises(CommandError, match="'Kundennummer'"):
        call(str(SAMPLES / "shop_kunden.csv"), "--source", "webshop")
    assert ImportJob.objects.get().status == ImportJob.Status.FAILED
    assert not Customer.objects.exists()


def test_command_refuses_missing_file_and_bad_mapping(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call(str(tmp_path / "nope.csv"), "--source", "x")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CommandError, match="not valid JSON"):
        call(str(SAMPLES / "shop_kunden.csv"), "--source", "x", "--mapping", str(bad))
    with pytest.raises(CommandError, match="no such file or saved mapping"):
        call(str(SAMPLES / "shop_kunden.csv"), "--source", "x", "--mapping", "unknown")
