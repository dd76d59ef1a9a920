"""The jurisdiction matrix as data: every US state, DC and the territories, the sector
regimes and the countries beyond the EU, with the provision each comes from.

Read it as a table. `regimes_seed` (the data migration and `manage.py seed_regimes`) writes
it into `Regime` and `Regulator`; an admin may correct a regime afterwards (each change is
logged), and the seed never overwrites a regime an admin has changed. Figures are the
statutes' own as we read them on 2026-11-30; a row's `source` says where to check it.

Consumer notice: days, or None for "most expedient time / without unreasonable delay".
AG: (threshold, days or None, relation to the consumer notice or "", authority).
CRA: the threshold above which consumer reporting agencies are told, or None.
"""

from dataclasses import dataclass, field
from datetime import date
from typing import Any

STATE_AG = "Attorney General"


@dataclass(frozen=True)
class State:
    code: str
    name: str
    tz: str
    consumer_days: int | None
    source: str
    clock_start: str = "awareness"
    ag: tuple[int, int | None, str, str] | None = None
    cra: int | None = None
    cra_more_than: bool = True
    content: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


NY_TZ, CHI, DEN, LA = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"

# fmt: off
STATES = [
    State("AL", "Alabama", CHI, 45, "Ala. Code §§ 8-38-5 to 8-38-7", "determination",
          ag=(1001, 45, "", STATE_AG), cra=1000),
    State("AK", "Alaska", "America/Anchorage", None, "Alaska Stat. §§ 45.48.010-.040", cra=1000),
    State("AZ", "Arizona", "America/Phoenix", 45, "Ariz. Rev. Stat. § 18-552", "determination",
          ag=(1001, 45, "", "Attorney General and Department of Homeland Security"), cra=1000),
    State("AR", "Arkansas", CHI, None, "Ark. Code § 4-110-105",
          ag=(1001, 45, "sooner_of", STATE_AG)),
    State("CA", "California", LA, 30, "Cal. Civ. Code § 1798.82 (as amended by SB 446, 2025)",
          ag=(501, 15, "", STATE_AG),
          content="Titled 'Notice of Data Breach' with the headings 'What Happened', 'What "
          "Information Was Involved', 'What We Are Doing', 'What You Can Do' and 'For More "
          "Information', in at least 10-point type (§ 1798.82(d)).",
          extra={"ag_clock_start": "consumer_notice"}),
    State("CO", "Colorado", DEN, 30, "Colo. Rev. Stat. § 6-1-716", "determination",
          ag=(500, 30, "", STATE_AG), cra=1000),
    State("CT", "Connecticut", NY_TZ, 60, "Conn. Gen. Stat. § 36a-701b",
          ag=(1, None, "no_later_than", STATE_AG)),
    State("DE", "Delaware", NY_TZ, 60, "6 Del. C. § 12B-102", "determination",
          ag=(501, None, "no_later_than", STATE_AG)),
    State("DC", "District of Columbia", NY_TZ, None, "D.C. Code § 28-3852",
          ag=(50, None, "no_later_than", STATE_AG), cra=1000),
    State("FL", "Florida", NY_TZ, 30, "Fla. Stat. § 501.171", "determination",
          ag=(500, 30, "", "Department of Legal Affairs"), cra=1000),
    State("GA", "Georgia", NY_TZ, None, "O.C.G.A. § 10-1-912", cra=10000),
    State("HI", "Hawaii", "Pacific/Honolulu", None, "Haw. Rev. Stat. § 487N-2",
          ag=(1001, None, "", "Office of Consumer Protection"), cra=1000),
    State("ID", "Idaho", "America/Boise", None, "Idaho Code § 28-51-105"),
    State("IL", "Illinois", CHI, None, "815 ILCS 530/10",
          ag=(501, None, "no_later_than", STATE_AG)),
    State("IN", "Indiana", "America/Indiana/Indianapolis", 45, "Ind. Code § 24-4.9-3",
          ag=(1, 45, "", STATE_AG), cra=1000),
    State("IA", "Iowa", CHI, None, "Iowa Code § 715C.2",
          ag=(501, 5, "", "Consumer Protection Division"),
          extra={"ag_clock_start": "consumer_notice", "ag_unit": "business_days"}),
    State("KS", "Kansas", CHI, None, "Kan. Stat. § 50-7a02", cra=1000),
    State("KY", "Kentucky", NY_TZ, None, "Ky. Rev. Stat. § 365.732", cra=1000),
    State("LA", "Louisiana", CHI, 60, "La. Rev. Stat. § 51:3074; La. Admin. Code 16:III.701",
          ag=(1, 10, "", STATE_AG), extra={"ag_clock_start": "consumer_notice"}),
    State("ME", "Maine", NY_TZ, 30, "10 M.R.S. § 1348",
          ag=(1, 30, "", STATE_AG), cra=1000),
    State("MD", "Maryland", NY_TZ, 45, "Md. Code, Com. Law § 14-3504",
          ag=(1, None, "before", STATE_AG), cra=1000),
    State("MA", "Massachusetts", NY_TZ, None, "Mass. Gen. Laws ch. 93H § 3",
          ag=(1, None, "", "Attorney General and Office of Consumer Affairs and Business "
              "Regulation")),
    State("MI", "Michigan", "America/Detroit", None, "Mich. Comp. Laws § 445.72", cra=1000),
    State("MN", "Minnesota", CHI, None, "Minn. Stat. § 325E.61", cra=500),
    State("MS", "Mississippi", CHI, None, "Miss. Code § 75-24-29"),
    State("MO", "Missouri", CHI, None, "Mo. Rev. Stat. § 407.1500",
          ag=(1001, None, "", STATE_AG), cra=1000),
    State("MT", "Montana", DEN, None, "Mont. Code § 30-14-1704",
          ag=(1, None, "same_time", "Office of Consumer Protection")),
    State("NE", "Nebraska", CHI, None, "Neb. Rev. Stat. § 87-803",
          ag=(1, None, "no_later_than", STATE_AG)),
    State("NV", "Nevada", LA, None, "Nev. Rev. Stat. § 603A.220", cra=1000),
    State("NH", "New Hampshire", NY_TZ, None, "N.H. Rev. Stat. § 359-C:20",
          ag=(1, None, "", STATE_AG), cra=1000),
    State("NJ", "New Jersey", NY_TZ, None, "N.J. Stat. § 56:8-163",
          ag=(1, None, "before", "Division of State Police"), cra=1000),
    State("NM", "New Mexico", DEN, 45, "N.M. Stat. §§ 57-12C-6, 57-12C-10",
          ag=(1001, 45, "", STATE_AG), cra=1000),
    State("NY", "New York", NY_TZ, 30, "N.Y. Gen. Bus. Law § 899-aa (as amended December 2024)",
          ag=(1, None, "same_time", "Attorney General, Department of State and Division of "
              "State Police"), cra=5000),
    State("NC", "North Carolina", NY_TZ, None, "N.C. Gen. Stat. § 75-65",
          ag=(1, None, "", "Consumer Protection Division"), cra=1000),
    State("ND", "North Dakota", CHI, None, "N.D. Cent. Code § 51-30-02",
          ag=(251, None, "", STATE_AG)),
    State("OH", "Ohio", NY_TZ, 45, "Ohio Rev. Code § 1349.19", cra=1000),
    State("OK", "Oklahoma", CHI, None, "24 Okla. Stat. § 163 (as amended by SB 626, 2025)",
          ag=(500, 60, "", STATE_AG)),
    State("OR", "Oregon", LA, 45, "Or. Rev. Stat. § 646A.604",
          ag=(251, 45, "", STATE_AG), cra=1000),
    State("PA", "Pennsylvania", NY_TZ, None, "73 P.S. § 2303 (as amended by Act 33 of 2024)",
          ag=(501, None, "same_time", STATE_AG), cra=1000),
    State("RI", "Rhode Island", NY_TZ, 45, "R.I. Gen. Laws § 11-49.3-4",
          ag=(501, 45, "", STATE_AG), cra=500),
    State("SC", "South Carolina", NY_TZ, None, "S.C. Code § 39-1-90",
          ag=(1001, None, "", "Department of Consumer Affairs"), cra=1000),
    State("SD", "South Dakota", CHI, 60, "S.D. Codified Laws §§ 22-40-20, 22-40-24",
          ag=(251, 60, "", STATE_AG), cra=1, cra_more_than=False),
    State("TN", "Tennessee", CHI, 45, "Tenn. Code § 47-18-2107", cra=1000),
    State("TX", "Texas", CHI, 60, "Tex. Bus. & Com. Code § 521.053", "determination",
          ag=(250, 30, "", STATE_AG), cra=10000),
    State("UT", "Utah", DEN, None, "Utah Code § 13-44-202",
          ag=(500, None, "", "Attorney General and Utah Cyber Center"), cra=1000,
          cra_more_than=False),
    State("VT", "Vermont", NY_TZ, 45, "9 V.S.A. § 2435",
          ag=(1, 14, "sooner_of", STATE_AG), cra=1000,
          extra={"ag_unit": "business_days"}),
    State("VA", "Virginia", NY_TZ, None, "Va. Code § 18.2-186.6",
          ag=(1, None, "", STATE_AG), cra=1000),
    State("WA", "Washington", LA, 30, "Rev. Code Wash. § 19.255.010",
          ag=(501, 30, "", STATE_AG)),
    State("WV", "West Virginia", NY_TZ, None, "W. Va. Code § 46A-2A-102", cra=1000),
    State("WI", "Wisconsin", CHI, 45, "Wis. Stat. § 134.98", cra=1000),
    State("WY", "Wyoming", DEN, None, "Wyo. Stat. § 40-12-502"),
    State("PR", "Puerto Rico", "America/Puerto_Rico", None, "10 L.P.R.A. §§ 4051-4055",
          ag=(1, 10, "", "Department of Consumer Affairs (DACO)")),
    State("GU", "Guam", "Pacific/Guam", None, "9 Guam Code Ann. § 48.30"),
    State("VI", "U.S. Virgin Islands", "America/St_Thomas", None, "14 V.I.C. § 2208"),
]
# fmt: on

# Codes the first seed gave some states; kept so obligations already owed stay attached.
CONSUMER_CODES = {"TX": "us-tx-individuals"}

EEA = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    "IS", "LI", "NO",
]  # fmt: skip
EU = [c for c in EEA if c not in ("IS", "LI", "NO")]


def _state_regimes(state: State) -> list[dict[str, Any]]:
    own = state.code.lower()
    consumer_code = CONSUMER_CODES.get(state.code, f"us-{own}")
    days = state.consumer_days
    when = f"within {days} days" if days else "in the most expedient time possible"
    start = {
        "awareness": "discovery",
        "determination": "the determination of the breach",
    }[state.clock_start]
    rows = [
        {
            "code": consumer_code,
            "name": f"{state.name}: notify affected residents",
            "recipient": f"Affected {state.name} residents",
            "countries": ["US"],
            "regions": [state.code],
            "clock_start": state.clock_start,
            "deadline_amount": days,
            "deadline_unit": "days" if days else "none",
            "due_timezone": state.tz,
            "met_by_consumer_notice": True,
            "terms": f"Notify affected {state.name} residents whose personal information was "
            f"acquired {when} after {start}, unless law enforcement asks for a delay. "
            + state.content,
            "source": state.source,
        }
    ]
    if state.ag:
        threshold, ag_days, relation, authority = state.ag
        unit = state.extra.get("ag_unit", "days") if ag_days else "none"
        ag_start = state.extra.get("ag_clock_start", state.clock_start)
        order = {
            "": "",
            "before": " before the residents are notified",
            "same_time": " at the same time as the residents",
            "no_later_than": " no later than the residents are notified",
            "sooner_of": " or when the residents are notified, whichever is sooner",
        }[relation]
        counted = f"{threshold} or more residents" if threshold > 1 else "any resident"
        timing = f"within {ag_days} {unit.replace('_', ' ')}" if ag_days else "promptly"
        if ag_start == "consumer_notice":
            timing += " of the consumer notice"
        rows.append(
            {
                "code": f"us-{own}-attorney-general",
                "name": f"{state.name}: notify the {authority}"
                + (f" ({threshold} or more)" if threshold > 1 else ""),
                "recipient": f"{state.name} {authority}",
                "regulator": f"us-{own}-ag",
                "countries": ["US"],
                "regions": [state.code],
                "min_affected": threshold,
                "clock_start": ag_start,
                "deadline_amount": ag_days,
                "deadline_unit": unit,
                "holiday_calendar": f"US-{state.code}" if unit == "business_days" else "",
                "due_timezone": state.tz,
                "relation": relation,
                "relative_to": consumer_code if relation else None,
                "terms": f"A breach involving {counted} is reported to the {authority} "
                f"{timing}{order}.",
                "source": state.source,
            }
        )
    if state.cra:
        more = "more than" if state.cra_more_than else "at least"
        threshold = state.cra + 1 if state.cra_more_than else state.cra
        rows.append(
            {
                "code": f"us-{own}-cra",
                "name": f"{state.name}: notify the consumer reporting agencies",
                "recipient": "Nationwide consumer reporting agencies (Equifax, Experian, "
                "TransUnion)",
                "countries": ["US"],
                "regions": [state.code],
                "min_affected": threshold,
                "clock_start": state.clock_start,
                "deadline_unit": "none",
                "due_timezone": state.tz,
                "relation": "no_later_than",
                "relative_to": consumer_code,
                "terms": f"When {more} {state.cra} {state.name} residents are notified, tell "
                "the nationwide consumer reporting agencies the timing, distribution and "
                "content of the notices, without unreasonable delay.",
                "source": state.source,
            }
        )
    return rows


SECTOR: list[dict[str, Any]] = [
    {
        "code": "hipaa-annual-log",
        "name": "HIPAA: log of breaches under 500 to HHS",
        "recipient": "U.S. Department of Health and Human Services (OCR)",
        "regulator": "us-hhs-ocr",
        "profile_flag": "hipaa_covered",
        "max_affected": 500,
        "clock_start": "year_end",
        "deadline_amount": 60,
        "deadline_unit": "days",
        "due_timezone": NY_TZ,
        "terms": "A breach of fewer than 500 individuals is logged and reported to the "
        "Secretary no later than 60 days after the end of the calendar year it was "
        "discovered in.",
        "source": "45 CFR 164.408(c)",
    },
    {
        "code": "nydfs-500-17",
        "name": "NYDFS Part 500.17: notify the Superintendent",
        "recipient": "New York State Department of Financial Services",
        "regulator": "us-nydfs",
        "profile_flag": "nydfs_covered",
        "clock_start": "determination",
        "deadline_amount": 72,
        "deadline_unit": "hours",
        "terms": "Notify the Superintendent electronically within 72 hours of determining that "
        "a cybersecurity incident occurred; a ransom payment is reported within 24 hours of "
        "the payment and its reasons within 30 days.",
        "source": "23 NYCRR 500.17(a) and (c) (Second Amendment, 2023)",
    },
    {
        "code": "ftc-safeguards",
        "name": "FTC Safeguards Rule: notify the FTC (500 or more consumers)",
        "recipient": "Federal Trade Commission",
        "regulator": "us-ftc",
        "profile_flag": "ftc_safeguards",
        "min_affected": 500,
        "deadline_amount": 30,
        "deadline_unit": "days",
        "due_timezone": NY_TZ,
        "terms": "A notification event involving the unencrypted information of at least 500 "
        "consumers is reported to the FTC through its online form as soon as possible and "
        "no later than 30 days after discovery.",
        "source": "16 CFR 314.4(j) (amended 2023, in force 13 May 2024)",
        "in_force_from": "2024-05-13",
    },
    {
        "code": "reg-s-p-customers",
        "met_by_consumer_notice": True,
        "name": "Regulation S-P: notify affected customers",
        "recipient": "Affected customers",
        "profile_flag": "broker_dealer",
        "deadline_amount": 30,
        "deadline_unit": "days",
        "due_timezone": NY_TZ,
        "terms": "Notify affected individuals whose sensitive customer information was, or is "
        "reasonably likely to have been, accessed or used without authorisation as soon as "
        "practicable and no later than 30 days after becoming aware.",
        "source": "17 CFR 248.30(a)(4) (Release 34-100155, 2024)",
        "in_force_from": "2025-12-03",
    },
    {
        "code": "us-bank-36h",
        "name": "US banking: notify the primary federal regulator within 36 hours",
        "recipient": "Primary federal regulator (OCC, Federal Reserve or FDIC)",
        "profile_flag": "us_bank",
        "clock_start": "determination",
        "deadline_amount": 36,
        "deadline_unit": "hours",
        "terms": "Notify the primary federal regulator as soon as possible and no later than "
        "36 hours after determining that a notification incident occurred.",
        "source": "12 CFR 53.3 (OCC), 225.302 (FRB), 304.23 (FDIC)",
        "in_force_from": "2022-05-01",
    },
    {
        "code": "dora-initial",
        "name": "DORA: initial notification of a major ICT incident",
        "recipient": "Competent authority (financial supervisor)",
        "profile_flag": "dora_entity",
        "deadline_amount": 24,
        "deadline_unit": "hours",
        "terms": "Initial notification within 4 hours of classifying the incident as major "
        "and no later than 24 hours after becoming aware of it.",
        "source": "Regulation (EU) 2022/2554 (DORA), Art. 19(4)(a); Delegated Regulation "
        "(EU) 2025/301, Art. 5",
        "in_force_from": "2025-01-17",
    },
    {
        "code": "dora-intermediate",
        "name": "DORA: intermediate report",
        "recipient": "Competent authority (financial supervisor)",
        "profile_flag": "dora_entity",
        "clock_start": "preceding_filing",
        "follows": "dora-initial",
        "deadline_amount": 72,
        "deadline_unit": "hours",
        "terms": "Intermediate report within 72 hours of the initial notification.",
        "source": "Regulation (EU) 2022/2554 (DORA), Art. 19(4)(b); Delegated Regulation "
        "(EU) 2025/301, Art. 5",
        "in_force_from": "2025-01-17",
    },
    {
        "code": "dora-final",
        "name": "DORA: final report",
        "recipient": "Competent authority (financial supervisor)",
        "profile_flag": "dora_entity",
        "clock_start": "preceding_filing",
        "follows": "dora-intermediate",
        "deadline_amount": 1,
        "deadline_unit": "months",
        "due_timezone": "Europe/Brussels",
        "terms": "Final report within one month of the latest updated intermediate report.",
        "source": "Regulation (EU) 2022/2554 (DORA), Art. 19(4)(c); Delegated Regulation "
        "(EU) 2025/301, Art. 5",
        "in_force_from": "2025-01-17",
    },
    {
        "code": "eprivacy-611-2013",
        "name": "ePrivacy (Reg. 611/2013): notify the national authority within 24 hours",
        "recipient": "Competent national authority",
        "profile_flag": "telecom_provider",
        "deadline_amount": 24,
        "deadline_unit": "hours",
        "terms": "A provider of publicly available electronic communications services notifies "
        "a personal data breach to the competent national authority no later than 24 hours "
        "after detection, where feasible.",
        "source": "Commission Regulation (EU) No 611/2013, Art. 2(2); Directive 2002/58/EC, "
        "Art. 4(3)",
    },
    {
        "code": "nis2-intermediate",
        "name": "NIS2: intermediate report on request",
        "recipient": "CSIRT or competent authority",
        "profile_flag": "nis2_entity",
        "deadline_unit": "none",
        "terms": "An intermediate report on relevant status updates, when the CSIRT or the "
        "competent authority asks for one.",
        "source": "Directive (EU) 2022/2555 (NIS2), Art. 23(4)(c)",
    },
    {
        "code": "nis2-final-after-handling",
        "name": "NIS2: final report after an ongoing incident is handled",
        "recipient": "CSIRT or competent authority",
        "profile_flag": "nis2_entity",
        "clock_start": "containment",
        "deadline_amount": 1,
        "deadline_unit": "months",
        "due_timezone": "Europe/Brussels",
        "terms": "When the incident was still ongoing at the final report's due date, a "
        "progress report then, and the final report within one month of handling the "
        "incident.",
        "source": "Directive (EU) 2022/2555 (NIS2), Art. 23(4)(e)",
    },
]

COUNTRIES: list[dict[str, Any]] = [
    {
        "code": "ca-pipeda",
        "name": "Canada PIPEDA: report to the Privacy Commissioner",
        "recipient": "Office of the Privacy Commissioner of Canada",
        "regulator": "ca-opc",
        "countries": ["CA"],
        "deadline_unit": "none",
        "terms": "Report a breach creating a real risk of significant harm to the "
        "Commissioner and notify the individuals as soon as feasible; keep a record of "
        "every breach for 24 months.",
        "source": "PIPEDA s. 10.1 and 10.3; Breach of Security Safeguards Regulations "
        "(SOR/2018-64), s. 6",
    },
    {
        "code": "au-ndb",
        "name": "Australia NDB: assess within 30 days",
        "recipient": "Office of the Australian Information Commissioner",
        "regulator": "au-oaic",
        "countries": ["AU"],
        "deadline_amount": 30,
        "deadline_unit": "days",
        "due_timezone": "Australia/Sydney",
        "terms": "Complete a reasonable and expeditious assessment within 30 days of suspecting "
        "an eligible data breach; if eligible, notify the Commissioner and the individuals "
        "as soon as practicable.",
        "source": "Privacy Act 1988 (Cth), ss. 26WH and 26WK",
    },
    {
        "code": "sg-pdpa",
        "name": "Singapore PDPA: notify the PDPC within 3 days",
        "recipient": "Personal Data Protection Commission",
        "regulator": "sg-pdpc",
        "countries": ["SG"],
        "clock_start": "determination",
        "deadline_amount": 3,
        "deadline_unit": "days",
        "due_timezone": "Asia/Singapore",
        "terms": "Notify the Commission as soon as practicable and no later than 3 calendar "
        "days after assessing that the breach is notifiable.",
        "source": "Personal Data Protection Act 2012, s. 26D(1)",
    },
    {
        "code": "br-lgpd",
        "name": "Brazil LGPD: notify the ANPD within 3 business days",
        "recipient": "Autoridade Nacional de Proteção de Dados (ANPD)",
        "regulator": "br-anpd",
        "countries": ["BR"],
        "deadline_amount": 3,
        "deadline_unit": "business_days",
        "holiday_calendar": "BR",
        "due_timezone": "America/Sao_Paulo",
        "terms": "Notify the ANPD and the data subjects of a security incident that may cause "
        "relevant risk or damage within 3 business days of becoming aware of it.",
        "source": "Lei 13.709/2018 (LGPD), Art. 48; ANPD Resolution CD/ANPD No. 15/2024, Art. 6",
        "in_force_from": "2024-04-26",
    },
    {
        "code": "jp-appi-preliminary",
        "name": "Japan APPI: preliminary report to the PPC",
        "recipient": "Personal Information Protection Commission",
        "regulator": "jp-ppc",
        "countries": ["JP"],
        "deadline_amount": 5,
        "deadline_unit": "days",
        "due_timezone": "Asia/Tokyo",
        "terms": "A preliminary report promptly, understood as within 3 to 5 days of becoming "
        "aware.",
        "source": "APPI Art. 26(1); Enforcement Rules Art. 8(1)",
    },
    {
        "code": "jp-appi-final",
        "name": "Japan APPI: final report to the PPC",
        "recipient": "Personal Information Protection Commission",
        "regulator": "jp-ppc",
        "countries": ["JP"],
        "deadline_amount": 30,
        "deadline_unit": "days",
        "due_timezone": "Asia/Tokyo",
        "terms": "A final report within 30 days of becoming aware (60 days when the breach was "
        "made for an unlawful purpose).",
        "source": "APPI Art. 26(1); Enforcement Rules Art. 8(2)",
    },
    {
        "code": "in-dpdp",
        "name": "India DPDP: report to the Data Protection Board within 72 hours",
        "recipient": "Data Protection Board of India",
        "regulator": "in-dpb",
        "countries": ["IN"],
        "deadline_amount": 72,
        "deadline_unit": "hours",
        "terms": "Intimate the Board without delay and give a detailed report within 72 hours "
        "of becoming aware; tell each affected Data Principal without delay.",
        "source": "Digital Personal Data Protection Act 2023, s. 8(6); DPDP Rules 2025, r. 7",
        "in_force_from": "2025-11-14",
    },
    {
        "code": "ch-nfadp",
        "name": "Switzerland nFADP: report to the FDPIC",
        "recipient": "Federal Data Protection and Information Commissioner",
        "regulator": "ch-fdpic",
        "countries": ["CH"],
        "deadline_unit": "none",
        "terms": "Report a breach likely to result in a high risk to the Commissioner as soon "
        "as possible.",
        "source": "Federal Act on Data Protection (nFADP), Art. 24",
        "in_force_from": "2023-09-01",
    },
    {
        "code": "kr-pipa",
        "name": "South Korea PIPA: notify the PIPC within 72 hours (1,000 or more)",
        "recipient": "Personal Information Protection Commission",
        "regulator": "kr-pipc",
        "countries": ["KR"],
        "min_affected": 1000,
        "deadline_amount": 72,
        "deadline_unit": "hours",
        "terms": "Notify the affected people and, for 1,000 or more people (or any sensitive "
        "or unique identifying information), the Commission within 72 hours of becoming "
        "aware.",
        "source": "Personal Information Protection Act, Art. 34; Enforcement Decree Art. 40",
    },
]

REGULATORS: list[dict[str, Any]] = [
    {"code": "us-hhs-ocr", "name": "U.S. Department of Health and Human Services, Office for "
     "Civil Rights", "jurisdiction": "US", "portal_url": "https://ocrportal.hhs.gov/ocr/breach",
     "form": "Breach portal: notice to the Secretary", "language": "en",
     "address": "200 Independence Avenue SW, Washington, DC 20201"},
    {"code": "us-sec", "name": "U.S. Securities and Exchange Commission", "jurisdiction": "US",
     "portal_url": "https://www.edgarfiling.sec.gov", "form": "Form 8-K, Item 1.05",
     "language": "en", "address": "100 F Street NE, Washington, DC 20549"},
    {"code": "us-ftc", "name": "Federal Trade Commission", "jurisdiction": "US",
     "form": "Safeguards Rule notification event form", "language": "en",
     "address": "600 Pennsylvania Avenue NW, Washington, DC 20580"},
    {"code": "us-nydfs", "name": "New York State Department of Financial Services",
     "jurisdiction": "US-NY", "portal_url": "https://myportal.dfs.ny.gov",
     "form": "Cybersecurity incident notification (DFS Portal)", "language": "en"},
    {"code": "ca-opc", "name": "Office of the Privacy Commissioner of Canada",
     "jurisdiction": "CA", "form": "PIPEDA breach report form", "language": "en"},
    {"code": "au-oaic", "name": "Office of the Australian Information Commissioner",
     "jurisdiction": "AU", "form": "Notifiable Data Breach statement", "language": "en"},
    {"code": "sg-pdpc", "name": "Personal Data Protection Commission", "jurisdiction": "SG",
     "form": "Data breach notification form", "language": "en"},
    {"code": "br-anpd", "name": "Autoridade Nacional de Proteção de Dados", "jurisdiction": "BR",
     "form": "Comunicação de incidente de segurança", "language": "pt"},
    {"code": "jp-ppc", "name": "Personal Information Protection Commission (個人情報保護委員会)",
     "jurisdiction": "JP", "form": "漏えい等報告", "language": "ja"},
    {"code": "in-dpb", "name": "Data Protection Board of India", "jurisdiction": "IN",
     "language": "en"},
    {"code": "ch-fdpic", "name": "Federal Data Protection and Information Commissioner",
     "jurisdiction": "CH", "form": "Data security breach reporting portal", "language": "de"},
    {"code": "kr-pipc", "name": "Personal Information Protection Commission (개인정보보호위원회)",
     "jurisdiction": "KR", "language": "ko"},
]  # fmt: skip


def state_regulators() -> list[dict[str, Any]]:
    return [
        {
            "code": f"us-{s.code.lower()}-ag",
            "name": f"{s.name} {s.ag[3]}",
            "jurisdiction": f"US-{s.code}",
            "language": "es" if s.code == "PR" else "en",
        }
        for s in STATES
        if s.ag
    ]


def all_regimes() -> list[dict[str, Any]]:
    """Every regime row this module defines, in an order where each row's `follows` and
    `relative_to` come before it."""
    rows: list[dict[str, Any]] = []
    for state in STATES:
        rows.extend(_state_regimes(state))
    rows.extend(SECTOR)
    rows.extend(COUNTRIES)
    return rows


def regimes_seed(apps: Any = None) -> tuple[int, int]:
    """Write the data into Regime and Regulator (historical models when `apps` is given).

    Creates what is missing and refreshes what the seed wrote before; a regime an admin has
    changed (it has a RegimeChange) is left as the admin made it. Returns (created, updated).
    """
    if apps is None:
        from django.apps import apps as registry

        apps = registry
    Regime = apps.get_model("incidents", "Regime")
    Regulator = apps.get_model("incidents", "Regulator")
    RegimeChange = apps.get_model("incidents", "RegimeChange")
    for data in [*REGULATORS, *state_regulators()]:
        data = dict(data)
        Regulator.objects.update_or_create(code=data.pop("code"), defaults=data)
    edited = set(RegimeChange.objects.values_list("regime__code", flat=True))
    created = updated = 0
    for data in all_regimes():
        data = dict(data)
        code = data.pop("code")
        if code in edited:
            continue
        for key in ("follows", "relative_to"):
            if data.get(key):
                data[key] = Regime.objects.get(code=data[key])
        if data.get("regulator"):
            data["regulator"] = Regulator.objects.get(code=data["regulator"])
        for key in ("in_force_from", "in_force_until"):
            if data.get(key):
                data[key] = date.fromisoformat(data[key])
        _, was_created = Regime.objects.update_or_create(code=code, defaults=data)
        created += was_created
        updated += not was_created
    # The first seed's notices to people are met by the notices sent.
    Regime.objects.filter(code__in=["hipaa-individuals", "gdpr-art34"]).exclude(
        code__in=edited
    ).update(met_by_consumer_notice=True)
    # SEC and HIPAA rows from the first seed get their authority.
    Regime.objects.filter(code="sec-8k-item-1-05", regulator=None).update(
        regulator=Regulator.objects.get(code="us-sec")
    )
    Regime.objects.filter(code__in=["hipaa-hhs"], regulator=None).update(
        regulator=Regulator.objects.get(code="us-hhs-ocr")
    )
    return created, updated


# The rows the migrations' seeds wrote, kept by the first restore of a process: a test
# database is flushed after every transactional test, and writing the matrix row by row
# again each time took seconds.
_restored: list[list[Any]] = []


def regimes_restore() -> None:
    """The regimes the migrations write, written again into a database that has none (after
    `manage.py flush`, or a transactional test's flush): the older seed, the time zones the
    matrix gave it, then the matrix itself, in the migrations' order. One transaction; from
    the second restore of a process on, the first one's rows are inserted as they were."""
    from importlib import import_module

    from django.apps import apps as registry
    from django.db import transaction

    from .models import Regime, Regulator

    with transaction.atomic():
        if _restored:
            for rows in _restored:
                type(rows[0]).objects.bulk_create(rows)
            return
        for module, step in (
            ("0004_seed_regimes", "seed"),
            ("0007_jurisdiction_matrix", "set_zones"),
            ("0008_seed_matrix", "seed"),
        ):
            getattr(import_module(f"incidents.migrations.{module}"), step)(registry, None)
        # In id order: a regime follows (or counts from) one written before it.
        _restored.extend(
            rows
            for rows in (
                list(Regulator.objects.order_by("pk")),
                list(Regime.objects.order_by("pk")),
            )
            if rows
        )
