import threading
import tracemalloc
from io import BytesIO
from pathlib import Path

import pytest
from django.db import connection, connections
from openpyxl import Workbook

from incidents.models import AffectedCustomer, ForensicList, ForensicListRow, Incident
from incidents.services import ScopeError, scope_add_forensic_list, scope_set
from incidents.signals import scope_changed

from .factories import (
    CustomerFactory,
    IncidentFactory,
    SegmentFactory,
    SegmentMembershipFactory,
    SourceRecordFactory,
)

pytestmark = pytest.mark.django_db
HERE = Path(__file__).parent


def scoped(incident):
    return set(
        AffectedCustomer.objects.filter(incident=incident).values_list("customer", flat=True)
    )


@pytest.fixture
def signals():
    received = []

    def receiver(sender, **kwargs):
        received.append({**kwargs, "in_transaction": connection.in_atomic_block})

    scope_changed.connect(receiver, dispatch_uid="test-scope-receiver")
    yield received
    scope_changed.disconnect(dispatch_uid="test-scope-receiver")


def test_scope_by_segment_holds_exactly_the_members_and_tells_the_other_apps(make_user, signals):
    analyst = make_user("analyst")
    incident = IncidentFactory.create(data_categories=["contact", "credentials"])
    segment = SegmentFactory.create()
    members = [SegmentMembershipFactory.create(segment=segment).customer for _ in range(3)]
    CustomerFactory.create()

    change = scope_set(incident_id=incident.pk, actor=analyst, segment_ids=[segment.pk])

    assert (change.added, change.removed, change.total) == (3, 0, 3)
    assert scoped(incident) == {c.pk for c in members}
    row = AffectedCustomer.objects.filter(incident=incident).get(customer=members[0])
    assert row.data_categories == ["contact", "credentials"]
    assert row.found_by == AffectedCustomer.FoundBy.SEGMENT
    assert signals == [
        {
            "signal": scope_changed,
            "incident_id": incident.pk,
            "added": 3,
            "removed": 0,
            "actor": analyst,
            "in_transaction": True,
        }
    ]
    event = incident.timeline.get(kind="scope.set")
    assert event.payload["added"] == 3
    assert event.payload["segments"] == [segment.pk]
    assert event.actor_label == "analyst"


def test_replacing_the_scope_removes_who_left_and_adds_who_came(make_user, signals):
    incident = IncidentFactory.create()
    first, second = SegmentFactory.create(), SegmentFactory.create()
    only_first = SegmentMembershipFactory.create(segment=first).customer
    both = SegmentMembershipFactory.create(segment=first).customer
    SegmentMembershipFactory.create(segment=second, customer=both)
    only_second = SegmentMembershipFactory.create(segment=second).customer
    scope_set(incident_id=incident.pk, actor=None, segment_ids=[first.pk])

    change = scope_set(
        incident_id=incident.pk,
        actor=None,
        segment_ids=[second.pk],
        data_categories=["payment_card"],
    )

    assert (change.added, change.removed, change.total) == (1, 1, 2)
    assert scoped(incident) == {both.pk, only_second.pk}
    assert only_first.pk not in scoped(incident)
    assert [row.data_categories for row in AffectedCustomer.objects.filter(incident=incident)] == [
        ["payment_card"],
        ["payment_card"],
    ]
    assert [s["removed"] for s in signals] == [0, 1]


def test_setting_the_same_scope_again_changes_nothing():
    incident = IncidentFactory.create()
    segment = SegmentFactory.create()
    SegmentMembershipFactory.create_batch(4, segment=segment)
    scope_set(incident_id=incident.pk, actor=None, segment_ids=[segment.pk])

    change = scope_set(incident_id=incident.pk, actor=None, segment_ids=[segment.pk])

    assert (change.added, change.removed, change.total) == (0, 0, 4)


def test_segment_and_source_system_together_select_their_intersection():
    incident = IncidentFactory.create()
    segment = SegmentFactory.create()
    in_both = SegmentMembershipFactory.create(segment=segment).customer
    SourceRecordFactory.create(customer=in_both, source="shop")
    SegmentMembershipFactory.create(segment=segment)
    SourceRecordFactory.create(source="shop")

    change = scope_set(
        incident_id=incident.pk, actor=None, segment_ids=[segment.pk], sources=["shop"]
    )

    assert change.added == 1
    assert scoped(incident) == {in_both.pk}


def test_scope_by_source_system_alone_is_recorded_as_found_by_system():
    incident = IncidentFactory.create()
    record = SourceRecordFactory.create(source="shop")
    SourceRecordFactory.create(customer=record.customer, source="salesforce")
    SourceRecordFactory.create(source="salesforce")

    scope_set(incident_id=incident.pk, actor=None, sources=["shop"])

    row = AffectedCustomer.objects.get(incident=incident)
    assert row.customer == record.customer
    assert row.found_by == AffectedCustomer.FoundBy.SYSTEM


def test_adding_without_replace_keeps_the_scope_already_there():
    incident = IncidentFactory.create()
    first, second = SegmentFactory.create(), SegmentFactory.create()
    a = SegmentMembershipFactory.create(segment=first).customer
    b = SegmentMembershipFactory.create(segment=second).customer
    scope_set(incident_id=incident.pk, actor=None, segment_ids=[first.pk])

    change = scope_set(incident_id=incident.pk, actor=None, segment_ids=[second.pk], replace=False)

    assert (change.added, change.removed) == (1, 0)
    assert scoped(incident) == {a.pk, b.pk}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "at least one segment or source"),
        ({"segment_ids": [999999]}, "Unknown segments: 999999"),
        ({"sources": ["nowhere"]}, "No customer comes from: nowhere"),
        ({"sources": ["salesforce"], "data_categories": ["gossip"]}, "Unknown data categories"),
    ],
)
def test_a_scope_that_cannot_be_written_says_why_and_writes_nothing(kwargs, message, signals):
    incident = IncidentFactory.create()
    SourceRecordFactory.create(source="salesforce")

    with pytest.raises(ScopeError, match=message):
        scope_set(incident_id=incident.pk, actor=None, **kwargs)

    assert scoped(incident) == set()
    assert not incident.timeline.exists()
    assert signals == []


def test_a_scope_needs_data_categories_from_the_call_or_the_incident():
    incident = IncidentFactory.create(data_categories=[])
    SourceRecordFactory.create(source="salesforce")

    with pytest.raises(ScopeError, match="Name the data categories"):
        scope_set(incident_id=incident.pk, actor=None, sources=["salesforce"])


def test_a_closed_incident_cannot_be_scoped():
    incident = IncidentFactory.create(status=Incident.Status.CLOSED)
    SourceRecordFactory.create(source="salesforce")

    with pytest.raises(ScopeError, match="closed"):
        scope_set(incident_id=incident.pk, actor=None, sources=["salesforce"])


def test_a_failing_receiver_leaves_nothing_half_written():
    incident = IncidentFactory.create()
    SourceRecordFactory.create(source="salesforce")

    def refuse(sender, **kwargs):
        raise RuntimeError("campaigns could not hold")

    scope_changed.connect(refuse, dispatch_uid="test-refuse")
    try:
        with pytest.raises(RuntimeError):
            scope_set(incident_id=incident.pk, actor=None, sources=["salesforce"])
    finally:
        scope_changed.disconnect(dispatch_uid="test-refuse")

    assert scoped(incident) == set()
    assert not incident.timeline.exists()


SAMPLE_KNOWN = [
    "gemma.baker29@example.org",
    "Bayram.Roht2@example.com",
    " jessica.hurst11@example.com",
    "tyler.meyers7@example.com",
    "tara.austin6@mail.example.net",
]


def test_forensic_list_scopes_exactly_the_known_customers_and_keeps_the_rest(make_user):
    incident = IncidentFactory.create(data_categories=["credentials"])
    known = [
        CustomerFactory.create(email=e, email_normalized=e.strip().lower()) for e in SAMPLE_KNOWN
    ]
    CustomerFactory.create()
    content = (HERE / "affected_accounts.csv").read_bytes()

    change = scope_add_forensic_list(
        incident_id=incident.pk,
        actor=make_user("analyst"),
        content=content,
        filename="affected_accounts.csv",
    )

    assert (change.added, change.total, change.unmatched) == (5, 5, 1)
    assert scoped(incident) == {c.pk for c in known}
    forensic_list = ForensicList.objects.get(pk=change.forensic_list_id or 0)
    assert (forensic_list.rows, forensic_list.matched, forensic_list.unmatched) == (6, 5, 1)
    assert forensic_list.column == "account_email"
    unmatched = ForensicListRow.objects.get(forensic_list=forensic_list, customer__isnull=True)
    assert (unmatched.line, unmatched.value) == (7, "nobody0@unknown.example")
    assert unmatched.unmatched_reason == "no customer has this email"
    assert set(
        AffectedCustomer.objects.filter(incident=incident).values_list("found_by", flat=True)
    ) == {"forensic_list"}


def xlsx(rows):
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    out = BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_forensic_list_in_xlsx_matches_external_ids_and_refuses_ambiguous_ones():
    incident = IncidentFactory.create()
    alice = SourceRecordFactory.create(source="zoho", external_id="zcrm_1").customer
    SourceRecordFactory.create(source="zoho", external_id="shared-7")
    SourceRecordFactory.create(source="shop", external_id="shared-7")
    content = xlsx([["Record Id", "note"], ["zcrm_1", "x"], ["shared-7", "y"], ["", "z"]])

    change = scope_add_forensic_list(
        incident_id=incident.pk, actor=None, content=content, filename="list.xlsx"
    )

    assert scoped(incident) == {alice.pk}
    reasons = dict(
        ForensicListRow.objects.filter(forensic_list_id=change.forensic_list_id).values_list(
            "line", "unmatched_reason"
        )
    )
    assert reasons == {2: "", 3: "no single customer has this external id", 4: "empty"}


def test_forensic_list_without_a_usable_column_names_the_columns_and_writes_nothing():
    incident = IncidentFactory.create()

    with pytest.raises(ScopeError, match="line 1 holds: ip, seen"):
        scope_add_forensic_list(
            incident_id=incident.pk,
            actor=None,
            content=b"ip,seen\n203.0.113.1,yesterday\n",
            filename="ips.csv",
        )

    assert not ForensicList.objects.exists()


def test_forensic_list_with_an_overlong_value_names_its_line():
    incident = IncidentFactory.create()
    content = b"email\nok@example.com\n" + b"x" * 300 + b"@example.com\n"

    with pytest.raises(ScopeError, match=r"list\.csv line 3"):
        scope_add_forensic_list(
            incident_id=incident.pk, actor=None, content=content, filename="list.csv"
        )

    assert not ForensicList.objects.exists()


def test_forensic_list_in_another_format_is_refused():
    incident = IncidentFactory.create()

    with pytest.raises(ScopeError, match="upload a CSV or XLSX"):
        scope_add_forensic_list(
            incident_id=incident.pk, actor=None, content=b"%PDF", filename="list.pdf"
        )


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [
        (b"", {}, "is empty"),
        (b"email\n\n", {}, "lists no accounts"),
        (b"email,id\na@example.com,1\n", {"column": "login"}, "no column 'login'"),
    ],
)
def test_forensic_lists_that_cannot_be_read_say_why(content, kwargs, message):
    incident = IncidentFactory.create()
    with pytest.raises(ScopeError, match=message):
        scope_add_forensic_list(
            incident_id=incident.pk, actor=None, content=content, filename="l.csv", **kwargs
        )
    assert not ForensicList.objects.exists()


def test_a_named_column_is_read_even_when_another_looks_like_email():
    incident = IncidentFactory.create()
    record = SourceRecordFactory.create(external_id="A-17")
    content = b"contact_email;Account ID\nnobody@example.com;A-17\n"

    change = scope_add_forensic_list(
        incident_id=incident.pk,
        actor=None,
        content=content,
        filename="l.csv",
        column="account id",
    )

    assert (change.added, change.unmatched) == (1, 0)
    assert scoped(incident) == {record.customer_id}


@pytest.mark.django_db(transaction=True)
def test_two_analysts_scoping_one_incident_at_once_are_serialised():
    incident = IncidentFactory.create()
    segments = [SegmentFactory.create(), SegmentFactory.create()]
    for segment in segments:
        SegmentMembershipFactory.create_batch(30, segment=segment)
    start = threading.Barrier(2)
    changes, errors = [], []

    def analyst(segment):
        try:
            start.wait()
            changes.append(
                scope_set(
                    incident_id=incident.pk, actor=None, segment_ids=[segment.pk], replace=False
                )
            )
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=analyst, args=(s,)) for s in segments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert sorted(c.total for c in changes) == [30, 60]
    assert sum(c.added for c in changes) == 60
    assert AffectedCustomer.objects.filter(incident=incident).count() == 60
    assert list(incident.timeline.filter(kind="scope.set").values_list("seq", flat=True))


def test_a_forensic_xlsx_bomb_is_refused_before_it_is_expanded():
    from tests.customers.test_import_bad_files import _xlsx_with_sheet

    incident = IncidentFactory.create()
    bomb = _xlsx_with_sheet(b"<worksheet>" + b" " * (60 * 1024 * 1024) + b"</worksheet>")
    with pytest.raises(ScopeError, match="zip bomb"):
        scope_add_forensic_list(
            incident_id=incident.pk, actor=None, content=bomb, filename="accounts.xlsx"
        )
    assert not ForensicList.objects.exists()


def test_a_forensic_list_written_by_excel_in_windows_1252_matches_its_emails():
    customer = CustomerFactory.create(
        email="jurgen.muller@example.org", email_normalized="jurgen.muller@example.org"
    )
    incident = IncidentFactory.create()
    content = "E-Mail;Bemerkung\r\n  JURGEN.MULLER@example.org ;Zugriff über VPN\r\n".encode(
        "cp1252"
    )
    change = scope_add_forensic_list(
        incident_id=incident.pk, actor=None, content=content, filename="konten.csv"
    )
    assert change.added == 1
    assert list(incident.affected.values_list("customer_id", flat=True)) == [customer.pk]


def test_a_long_forensic_list_is_written_as_it_is_read_not_held_whole(make_user):
    """40,000 lines: the old reader held every line as a row object at once (about 45 MB
    of Python objects); written a few thousand at a time, the peak stays a fraction."""
    incident = IncidentFactory.create(data_categories=["credentials"])
    known = CustomerFactory.create(email="ann@example.org", email_normalized="ann@example.org")
    content = "email\nann@example.org\n" + "".join(
        f"nobody{n}@unknown.example\n" for n in range(40_000)
    )

    tracemalloc.start()
    try:
        change = scope_add_forensic_list(
            incident_id=incident.pk,
            actor=make_user("analyst"),
            content=content.encode(),
            filename="long.csv",
        )
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (change.added, change.unmatched) == (1, 40_000)
    assert scoped(incident) == {known.pk}
    assert peak < 15_000_000, f"peak {peak / 1e6:.0f} MB"


def test_a_bad_line_late_in_a_forensic_list_leaves_nothing_written(make_user):
    incident = IncidentFactory.create(data_categories=["credentials"])
    content = "email\n" + "".join(f"p{n}@example.org\n" for n in range(12_000))
    content += "x" * 300 + "@example.org\n"

    with pytest.raises(ScopeError, match="line 12002: the value is longer"):
        scope_add_forensic_list(
            incident_id=incident.pk,
            actor=make_user("analyst"),
            content=content.encode(),
            filename="bad-tail.csv",
        )

    assert not ForensicList.objects.filter(incident=incident).exists()
    assert not ForensicListRow.objects.exists()
    assert not incident.timeline.filter(kind="scope.set").exists()
