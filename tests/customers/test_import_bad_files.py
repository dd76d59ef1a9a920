"""Bad files get a clear error and leave the database as it was."""

import csv
import io
import random
import zipfile

import pytest

from customers.models import Customer, ImportJob, SourceRecord

from .conftest import SAMPLES, SHOP_MAPPING, import_sample, run_import

pytestmark = pytest.mark.django_db

SF_HEADER = "Contact ID,First Name,Last Name,Email\r\n"


def assert_refused(job: ImportJob, *words: str) -> None:
    assert job.status == ImportJob.Status.FAILED
    for word in words:
        assert word.lower() in job.error.lower(), job.error
    assert not Customer.objects.exists()
    assert not SourceRecord.objects.exists()


@pytest.fixture
def imported_before():
    """Something already in the record, which a refused file must leave untouched."""
    import_sample("zoho_contacts.csv")
    return sorted(Customer.objects.values_list("pk", "updated_at"))


def assert_unchanged(job: ImportJob, before, *words: str) -> None:
    assert job.status == ImportJob.Status.FAILED
    for word in words:
        assert word.lower() in job.error.lower(), job.error
    assert sorted(Customer.objects.values_list("pk", "updated_at")) == before


def test_empty_file_is_refused():
    assert_refused(run_import(b"", source="sf"), "empty")
    assert_refused(run_import(b"\r\n\r\n  \r\n", source="sf"), "empty")


def test_header_only_is_refused():
    assert_refused(run_import(SF_HEADER.encode(), source="sf"), "header but no data rows")


def test_unknown_layout_is_refused_naming_the_columns_it_could_not_place(imported_before):
    job = import_sample("shop_kunden.csv", mapping_columns=None)
    assert_unchanged(job, imported_before, "'Kundennummer'", "'Vorname'", "'Newsletter'")
    assert job.rows_read == 0


def test_mapping_naming_a_missing_column_is_refused():
    job = run_import(
        (SAMPLES / "shop_kunden.csv").read_bytes(),
        source="webshop",
        mapping_columns={**SHOP_MAPPING, "email": "Mail"},
    )
    assert_refused(job, "no column 'Mail'")


def test_binary_garbage_is_refused(imported_before):
    garbage = random.Random(7).randbytes(20_000)  # noqa: S311 (repeatable test data)
    job = run_import(garbage, source="sf", name="contacts.csv")
    assert_unchanged(job, imported_before, "not a CSV or XLSX file")


def test_truncated_xlsx_is_refused(imported_before):
    data = (SAMPLES / "dynamics_contacts.xlsx").read_bytes()
    job = run_import(data[: len(data) // 2], source="dynamics", name="contacts.xlsx")
    assert_unchanged(job, imported_before, "damaged or truncated")


def test_xlsx_renamed_garbage_is_refused():
    job = run_import(b"just some text", source="dynamics", name="contacts.xlsx")
    assert_refused(job, "damaged or truncated")


def _xlsx_with_sheet(sheet: bytes) -> bytes:
    """The sample workbook with its first sheet replaced."""
    source = zipfile.ZipFile(SAMPLES / "dynamics_contacts.xlsx")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = sheet if item.filename == "xl/worksheets/sheet1.xml" else source.read(item)
            target.writestr(item.filename, data)
    return out.getvalue()


def test_xlsx_zip_bomb_is_refused_before_it_is_expanded(imported_before):
    bomb = _xlsx_with_sheet(b"<worksheet>" + b" " * (60 * 1024 * 1024) + b"</worksheet>")
    assert len(bomb) < 200_000
    job = run_import(bomb, source="dynamics", name="contacts.xlsx")
    assert_unchanged(job, imported_before, "zip bomb")


def test_xlsx_entity_expansion_is_refused(imported_before):
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol3;</t></is></c></row>'
        b"</sheetData></worksheet>"
    )
    job = run_import(_xlsx_with_sheet(laughs), source="dynamics", name="contacts.xlsx")
    assert_unchanged(job, imported_before, "cannot be read")


def test_utf8_marker_on_a_windows_1252_file_is_refused_naming_the_line(imported_before):
    text = SF_HEADER + "A1,Zoë,Weiß,zoe@example.com\r\n"
    data = b"\xef\xbb\xbf" + text.encode("cp1252")
    job = run_import(data, source="sf")
    assert_unchanged(job, imported_before, "not valid utf-8-sig (line 2)")


def test_utf16_marker_on_8_bit_text_is_refused(imported_before):
    data = b"\xff\xfe" + (SF_HEADER + "A1,Ann,Lee,ann@example.com\r\n").encode()
    job = run_import(data, source="sf")
    assert_unchanged(job, imported_before, "not UTF-16")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "cp1252", "utf-8-sig", "utf-8"])
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_encodings_and_delimiters_are_recognised(encoding, delimiter):
    rows = [
        ["Contact ID", "First Name", "Last Name", "Email", "Mailing Street"],
        ["A1", "Zoë", "Weiß", "zoe@example.com", "Hauptstraße 1\nHinterhaus"],
    ]
    out = io.StringIO(newline="")

    csv.writer(out, delimiter=delimiter).writerows(rows)
    job = run_import(out.getvalue().encode(encoding), source="sf")

    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    zoe = Customer.objects.get()
    assert (zoe.first_name, zoe.last_name) == ("Zoë", "Weiß")
    assert zoe.street == "Hauptstraße 1\nHinterhaus"
