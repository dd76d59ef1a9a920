"""One selector per readiness dimension, each a few aggregate queries (never one per person).

Checks that read a feature not built yet go through one small function each
(`company_profile_state`, `call_centre_pack_state`, `regime_in_force`):
when the feature lands, only that function changes.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Case, Count, Exists, OuterRef, Q, Value, When
from django.db.models.functions import Upper
from django.urls import reverse
from django.utils import timezone

from config import roles
from config.models import CompanyProfile
from customers.models import Customer, SegmentMembership, SourceRecord
from incidents.models import DataCategory, Incident, Regime
from notifications.models import (
    CallCentrePack,
    Communication,
    RemediationCode,
    TemplateVersion,
)
from notifications.selectors import language_primary

from .checks import Check, Dimension, Link, State, percent, share
from .models import OnCallShift

# The admin lists behind the figures, and where each gap is fixed.
CONTACT_GAPS = "admin:readiness_contactgap_changelist"
VIEW_GAPS = "readiness.view_contactgap"
VIEW_ON_CALL = "readiness.view_oncallshift"
ADD_ON_CALL = "readiness.add_oncallshift"

# A postal letter needs a street, a city and a country (the letter PDF prints these).
USABLE_POSTAL = ~Q(street="") & ~Q(city="") & ~Q(country="")
VALID_EMAIL = Q(email_status=Customer.EmailStatus.VALID)


def _url(name: str, *args: object, query: dict[str, str] | None = None) -> str:
    url = reverse(name, args=args)
    return f"{url}?{urlencode(query)}" if query else url


def stale_cutoff() -> datetime:
    return timezone.now() - timedelta(days=round(30.44 * settings.READINESS_CONTACT_STALE_MONTHS))


# --- Reachable ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReachRow:
    country: str
    state: str
    language: str
    total: int
    email: int
    postal: int
    neither: int


def reach_rows() -> list[ReachRow]:
    """Customers by (country, US state, language) with how each may be reached: one
    GROUP BY over the customer table, which also tells the page which languages are spoken."""
    state = Case(When(country="US", then=Upper("region")), default=Value(""))
    rows = (
        # A record merged into another is the same person: counted once, as the survivor.
        Customer.objects.filter(merged_into__isnull=True)
        .annotate(state=state)
        .values("country", "state", "language")
        .annotate(
            total=Count("pk"),
            email=Count("pk", filter=VALID_EMAIL),
            postal=Count("pk", filter=USABLE_POSTAL),
            neither=Count("pk", filter=~VALID_EMAIL & ~USABLE_POSTAL),
        )
        .order_by()
    )
    return [
        ReachRow(
            r["country"] or "",
            r["state"] or "",
            r["language"] or "",
            r["total"],
            r["email"],
            r["postal"],
            r["neither"],
        )
        for r in rows
    ]


def stale_count() -> int:
    """Customers whose contact data no import has brought for the set number of months."""
    return Customer.objects.filter(stale(), merged_into__isnull=True).count()


def largest_segment() -> tuple[str, int] | None:
    """The segment with the most members (the most a single breach could plausibly reach)."""
    largest = (
        SegmentMembership.objects.values("segment__name")
        .annotate(n=Count("pk"))
        .order_by("-n", "segment__name")
        .first()
    )
    return (largest["segment__name"], largest["n"]) if largest else None


def stale() -> Any:
    """No source record seen since the cutoff. NOT EXISTS, not NOT IN: PostgreSQL turns it
    into an anti-join, where NOT IN over a million ids would fall back to a subplan per row
    once the id set outgrows work_mem."""
    recent = SourceRecord.objects.filter(customer=OuterRef("pk"), last_seen_at__gte=stale_cutoff())
    return ~Exists(recent)


def _reach_drill(reach: str, label: str, **extra: str) -> Link:
    return Link(_url(CONTACT_GAPS, query={"reach": reach, **extra}), label, VIEW_GAPS)


def reachable(rows: list[ReachRow], stale: int) -> Dimension:
    total = sum(r.total for r in rows)
    email = sum(r.email for r in rows)
    postal = sum(r.postal for r in rows)
    neither = sum(r.neither for r in rows)
    fix = Link(
        _url("admin:customers_customer_import"),
        "Import a fresh CRM export",
        "customers.import_customer",
    )
    months = settings.READINESS_CONTACT_STALE_MONTHS
    checks = [
        Check(
            "valid_email",
            "Customers with a valid email",
            share(email, total),
            State.OK if email == total else State.GAP,
            drill=_reach_drill("no_email", "Those without one"),
            fix=fix,
            value=percent(email, total),
        ),
        Check(
            "postal",
            "Customers with a usable postal address",
            share(postal, total),
            State.OK if postal == total else State.GAP,
            detail="street, city and country",
            drill=_reach_drill("no_postal", "Those without one"),
            fix=fix,
            value=percent(postal, total),
        ),
        Check(
            "unreachable",
            "Customers no channel reaches (neither)",
            share(neither, total),
            State.OK if neither == 0 else State.GAP,
            drill=_reach_drill("neither", "Who they are"),
            fix=fix,
            value=percent(neither, total),
        ),
        Check(
            "stale",
            f"Contact data not seen in any import for {months} months",
            share(stale, total),
            State.OK if stale == 0 else State.GAP,
            drill=_reach_drill("stale", "Who they are"),
            fix=fix,
            value=percent(stale, total),
        ),
    ]
    by_country: dict[str, list[int]] = {}
    by_state: dict[str, list[int]] = {}
    for r in rows:
        for key, sums_by in ((r.country or "?", by_country), (r.state, by_state)):
            if sums_by is by_state and r.country != "US":
                continue
            sums = sums_by.setdefault(key or "?", [0, 0, 0, 0])
            for i, n in enumerate((r.total, r.email, r.postal, r.neither)):
                sums[i] += n

    def table(sums: dict[str, list[int]], param: str) -> list[list[object]]:
        out: list[list[object]] = []
        for key, (n, e, p, x) in sorted(sums.items(), key=lambda i: (-i[1][3], i[0])):
            where = {param: key} if key != "?" else {}
            out.append(
                [
                    key,
                    f"{n:,}",
                    f"{percent(e, n):.1f}%",
                    f"{percent(p, n):.1f}%",
                    _reach_drill("neither", f"{x:,} ({percent(x, n):.1f}%)", **where),
                ]
            )
        return out

    header = ["", "Customers", "Valid email", "Postal address", "Neither"]
    tables = [("By country", ["Country", *header[1:]], table(by_country, "country"))]
    if by_state:
        tables.append(("By US state", ["State", *header[1:]], table(by_state, "state")))
    return Dimension("reachable", "Reachable", "Can every customer be told?", checks, tables)


# --- Words ready -------------------------------------------------------------------------


def spoken_languages(rows: list[ReachRow]) -> dict[str, int]:
    """Languages the customers speak (primary subtag), with how many speak each; people
    without one get the fallback language's words, so they count for it."""
    spoken: dict[str, int] = {}
    for r in rows:
        code = language_primary(r.language) or settings.BREACH_MESSAGE_FALLBACK_LANGUAGE
        spoken[code] = spoken.get(code, 0) + r.total
    return spoken


def words_ready(rows: list[ReachRow]) -> Dimension:
    spoken = spoken_languages(rows)
    due_after = timedelta(days=settings.READINESS_REVIEW_AFTER_DAYS)
    now = timezone.now()
    # Latest legal approval per (category, language). Approved versions are few (a handful
    # per incident), so they are read as a set and folded here.
    latest: dict[tuple[str, str], datetime] = {}
    approved = TemplateVersion.objects.filter(
        status=TemplateVersion.Status.APPROVED, reviewed_at__isnull=False
    ).values_list("language", "data_categories", "reviewed_at")
    for language, categories, reviewed_at in approved:
        if reviewed_at is None:
            continue
        for category in categories or []:
            key = (category, language_primary(language))
            if key not in latest or latest[key] < reviewed_at:
                latest[key] = reviewed_at
    labels = dict(DataCategory.choices)
    matrix: list[list[object]] = []
    missing = due = 0
    missing_languages: dict[str, int] = {}
    for category in DataCategory.values:
        cells: list[object] = [labels[category]]
        for language in sorted(spoken):
            reviewed = latest.get((category, language))
            if reviewed is None:
                missing += 1
                missing_languages[language] = missing_languages.get(language, 0) + 1
                cells.append("missing")
            else:
                age = (now - reviewed).days
                late = now - reviewed > due_after
                due += late
                cells.append(f"{age} d{' (re-review due)' if late else ''}")
        matrix.append(cells)
    cells_total = len(DataCategory.values) * len(spoken)
    fix = Link(
        _url("admin:notifications_messagetemplate_add"),
        "Write the missing words",
        "notifications.add_messagetemplate",
    )
    versions = "admin:notifications_templateversion_changelist"
    first_missing = sorted(missing_languages)[0] if missing_languages else ""
    cutoff = (now - due_after).date().isoformat()
    checks = [
        Check(
            "missing",
            "Data category and language pairs without an approved version",
            f"{missing} of {cells_total}",
            State.OK if not missing else State.GAP,
            detail=", ".join(
                f"{lang}: {n} categories" for lang, n in sorted(missing_languages.items())
            ),
            drill=Link(
                _url(versions, query={"language__exact": first_missing} if first_missing else None),
                f"Versions in {first_missing or 'every language'}",
                "notifications.view_templateversion",
            ),
            fix=fix,
            value=missing,
        ),
        Check(
            "review_due",
            "Approvals older than the yearly re-review",
            f"{due} of {cells_total - missing}",
            State.OK if not due else State.GAP,
            detail=f"re-review after {settings.READINESS_REVIEW_AFTER_DAYS} days",
            drill=Link(
                _url(versions, query={"status__exact": "approved", "reviewed_at__lt": cutoff}),
                "Approved versions due",
                "notifications.view_templateversion",
            ),
            fix=fix,
            value=due,
        ),
    ]
    header = ["Data category", *sorted(spoken)]
    return Dimension(
        "words",
        "Words ready",
        "Are the words approved before they are needed?",
        checks,
        [("Age of the latest legal approval", header, matrix)],
    )


# --- People ready ------------------------------------------------------------------------


# The roles a breach needs within its first hours: scope, words, sign-offs, the hold, the
# regulator, the callers. The auditor reads afterwards and is on no rota.
ON_CALL_ROLES = tuple(role for role in roles.ROLES if role != roles.AUDITOR)


def on_call_now() -> dict[str, list[tuple[str, datetime]]]:
    """Role -> (who, until when) for every active person on call at this moment: one query
    over the shifts that span now."""
    now = timezone.now()
    shifts = (
        OnCallShift.objects.filter(
            role__in=ON_CALL_ROLES, starts_at__lte=now, ends_at__gt=now, person__is_active=True
        )
        .select_related("person")
        .order_by("role", "ends_at")
    )
    found: dict[str, list[tuple[str, datetime]]] = {}
    for shift in shifts:
        name = shift.person.get_full_name() or shift.person.get_username()
        found.setdefault(shift.role, []).append((name, shift.ends_at))
    return found


def on_call_check(on_call: dict[str, list[tuple[str, datetime]]]) -> Check:
    uncovered = [role for role in ON_CALL_ROLES if role not in on_call]
    shifts = "admin:readiness_oncallshift_changelist"
    return Check(
        "on_call",
        "Roles with no one on call now",
        f"{len(uncovered)} of {len(ON_CALL_ROLES)}",
        State.OK if not uncovered else State.GAP,
        detail=", ".join(uncovered),
        drill=Link(_url(shifts, query={"when": "now"}), "Who is on call now", VIEW_ON_CALL),
        fix=Link(_url("admin:readiness_oncallshift_add"), "Put someone on call", ADD_ON_CALL),
        value=len(uncovered),
    )


def people_ready() -> Dimension:
    user_model = get_user_model()
    active = Q(user__is_active=True)
    held = dict(
        Group.objects.filter(name__in=roles.ROLES)
        .annotate(n=Count("user", filter=active))
        .values_list("name", "n")
    )
    group_ids = dict(Group.objects.filter(name__in=roles.ROLES).values_list("name", "pk"))
    both = (
        user_model.objects.filter(is_active=True, groups__name=roles.CMO)
        .filter(groups__name=roles.CISO)
        .count()
    )
    thin = [role for role in roles.ROLES if held.get(role, 0) < 2]
    users = "admin:auth_user_changelist"
    fix = Link(_url("admin:auth_user_add"), "Add a person", "auth.add_user")
    checks = [
        Check(
            "roles",
            "Roles held by fewer than two active people",
            f"{len(thin)} of {len(roles.ROLES)}",
            State.OK if not thin else State.GAP,
            detail=", ".join(f"{r}: {held.get(r, 0)}" for r in thin),
            drill=Link(
                _url(users, query={"groups__id__exact": str(group_ids[thin[0]])}),
                f"Who holds {thin[0]}",
                "auth.view_user",
            )
            if thin and thin[0] in group_ids
            else None,
            fix=fix,
            value=len(thin),
        ),
        Check(
            "cmo_ciso",
            "People who are both CMO and CISO (sign-offs need two)",
            str(both),
            State.OK if both == 0 else State.GAP,
            drill=Link(
                _url(users, query={"groups__id__exact": str(group_ids[roles.CISO])}),
                "Who holds CISO",
                "auth.view_user",
            )
            if roles.CISO in group_ids
            else None,
            fix=Link(_url(users), "Change their roles", "auth.change_user"),
            value=both,
        ),
    ]
    on_call = on_call_now()
    checks.append(on_call_check(on_call))
    rows = [
        [
            role,
            held.get(role, 0),
            "; ".join(f"{who} until {until:%Y-%m-%d %H:%M} UTC" for who, until in on_call[role])
            if role in on_call
            else ("no one" if role in ON_CALL_ROLES else "—"),
        ]
        for role in roles.ROLES
    ]
    return Dimension(
        "people",
        "People ready",
        "Is every role covered twice, and is someone on call for each?",
        checks,
        [("Active people per role", ["Role", "Active people", "On call now"], rows)],
    )


# --- Rules ready -------------------------------------------------------------------------


def regime_in_force(regimes: "list[Regime]") -> "list[Regime]":
    """Regimes in force today. Regimes carry no in-force date yet: active ones count."""
    return [r for r in regimes if r.active]


def company_profile_state() -> tuple[State, str]:
    """Whether the company profile names everything every output carries: legal name,
    address, registration, sender, genuine-check page and DPO."""
    profile = CompanyProfile.objects.filter(pk=1).first()
    if profile is None:
        return State.GAP, "not set up"
    required = {
        "legal name": profile.legal_name,
        "address": profile.address_lines,
        "postal code": profile.postal_code,
        "city": profile.city,
        "country": profile.country,
        "registration": profile.registration,
        "sender": profile.sender_email,
        "genuine-check page": profile.genuine_check_url,
        "DPO contact": profile.dpo_email,
    }
    missing = [name for name, value in required.items() if not str(value).strip()]
    if "example." in profile.genuine_check_url:
        missing.append("genuine-check page (a placeholder)")
    if missing:
        return State.GAP, "missing: " + ", ".join(missing)
    return State.OK, "complete"


PLACEHOLDER_SUFFIXES = (".invalid", ".test", ".example", ".localhost", ".local")


def sender_domain() -> str:
    """The domain messages leave from: the company profile's sender, else the setting."""
    profile = CompanyProfile.objects.filter(pk=1).only("sender_email").first()
    address = (
        profile.sender_email
        if profile
        else settings.DEFAULT_FROM_EMAIL.rsplit("<", 1)[-1].rstrip(">").strip()
    )
    return address.rpartition("@")[2].lower()


def sender_is_placeholder(domain: str) -> bool:
    return (
        not domain
        or domain == "localhost"
        or domain.endswith(PLACEHOLDER_SUFFIXES)
        or domain.split(".")[0] == "example"
        or ".example." in f".{domain}."
    )


def rules_ready(rows: list[ReachRow]) -> Dimension:
    in_force = regime_in_force(list(Regime.objects.all()))
    covered_countries = {c for r in in_force for c in r.countries if not r.regions}
    covered_states = {s.upper() for r in in_force if "US" in r.countries for s in r.regions}
    countries: dict[str, int] = {}
    states: dict[str, int] = {}
    for row in rows:
        if row.country:
            countries[row.country] = countries.get(row.country, 0) + row.total
        if row.country == "US" and row.state:
            states[row.state] = states.get(row.state, 0) + row.total
    missing = [c for c in sorted(countries) if c != "US" and c not in covered_countries]
    missing += [f"US-{s}" for s in sorted(states) if s not in covered_states]
    if "US" in countries and not states and "US" not in covered_countries:
        missing.append("US")
    places = len([c for c in countries if c != "US"]) + max(len(states), "US" in countries)
    regimes = "admin:incidents_regime_changelist"
    profile_state, profile_figure = company_profile_state()
    domain = sender_domain()
    placeholder = sender_is_placeholder(domain)
    checks = [
        Check(
            "jurisdictions",
            "Jurisdictions where customers live without a regime in force",
            f"{len(missing)} of {places}",
            State.OK if not missing else State.GAP,
            detail=", ".join(missing[:20]) + (" …" if len(missing) > 20 else ""),
            drill=Link(
                _url(regimes, query={"active__exact": "1"}),
                "Regimes in force",
                "incidents.view_regime",
            ),
            fix=Link(_url("admin:incidents_regime_add"), "Add a regime", "incidents.add_regime"),
            value=len(missing),
        ),
        Check(
            "profile",
            "Company profile complete",
            profile_figure,
            profile_state,
            fix=Link(
                _url("admin:config_companyprofile_changelist"),
                "Company profile",
                "config.change_companyprofile",
            ),
        ),
        Check(
            "sender",
            "Sender domain is a real one",
            domain or "none",
            State.GAP if placeholder else State.OK,
            detail="set the sender in the company profile" if placeholder else "",
            fix=Link(
                _url("admin:config_companyprofile_changelist"),
                "Company profile",
                "config.change_companyprofile",
            ),
            value=0 if placeholder else 1,
        ),
    ]
    return Dimension(
        "rules", "Rules ready", "Are the rules of every place our customers live in here?", checks
    )


# --- Supplies ----------------------------------------------------------------------------


def call_centre_pack_state() -> tuple[State, str, int | None]:
    """Whether every signed-off breach communication has a call-centre pack written from
    its approved words (a new approved version voids the pack), and the first without one."""
    signed = Communication.objects.filter(status=Communication.Status.SIGNED_OFF)
    total = signed.count()
    if not total:
        return State.UNKNOWN, "no signed-off communication yet", None
    current = CallCentrePack.objects.filter(communication=OuterRef("pk"), voided_at__isnull=True)
    lacking = list(signed.filter(~Exists(current)).order_by("pk").values_list("pk", flat=True))
    state = State.GAP if lacking else State.OK
    return state, f"{total - len(lacking)} of {total} current", lacking[0] if lacking else None


def supplies(total_customers: int, largest: tuple[str, int] | None) -> Dimension:
    today = timezone.localdate()
    left = RemediationCode.objects.filter(notification__isnull=True, expires_on__gte=today).count()
    name, need = largest or ("all customers", total_customers)
    latest = Incident.objects.order_by("-awareness_at").values_list("pk", flat=True).first()
    fix = (
        Link(
            _url("admin:notifications_remediationcode_import", latest),
            "Import codes",
            "notifications.add_remediationcode",
        )
        if latest
        else Link(
            _url("admin:incidents_incident_add"),
            "Open a drill to hold codes",
            "incidents.add_incident",
        )
    )
    pack_state, pack_figure, lacking = call_centre_pack_state()
    checks = [
        Check(
            "codes",
            f"Remediation codes left against the largest segment ({name})",
            f"{left:,} of {need:,}",
            State.OK if left >= need else State.GAP,
            drill=Link(
                _url("admin:notifications_remediationcode_changelist"),
                "The codes",
                "notifications.view_remediationcode",
            ),
            fix=fix,
            value=left - need,
        ),
        Check(
            "call_centre",
            "Call-centre pack current for the approved words",
            pack_figure,
            pack_state,
            drill=Link(
                _url("admin:notifications_callcentrepack_changelist"),
                "The packs",
                "notifications.view_callcentrepack",
            ),
            fix=Link(
                _url("admin:notifications_callcentrepack_make", lacking),
                "Make the call-centre pack",
                "notifications.add_callcentrepack",
            )
            if lacking
            else None,
        ),
    ]
    return Dimension("supplies", "Supplies", "Is there enough to hand out?", checks)
