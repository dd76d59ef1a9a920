"""The notification regimes Breachdesk starts with. They are data: edit them in the admin.

Each cites the provision it comes from; obligations copy a regime's terms when they are
created, so a later edit never changes a deadline already owed.
"""

from django.db import migrations

EEA = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    "IS", "LI", "NO",
]


def _state(code, state, amount, source, terms, **extra):
    return {
        "code": code,
        "name": f"{state}: notify affected residents",
        "recipient": f"Affected {state} residents",
        "countries": ["US"],
        "regions": [extra.pop("region")],
        "deadline_amount": amount,
        "deadline_unit": "days",
        "terms": terms,
        "source": source,
        **extra,
    }


REGIMES = [
    {
        "code": "gdpr-art33",
        "name": "GDPR Art. 33: notify the supervisory authority",
        "recipient": "Lead supervisory authority",
        "waived_by": "art33",
        "profile_flag": "eu_establishment",
        "countries": EEA,
        "deadline_amount": 72,
        "deadline_unit": "hours",
        "terms": "Notify the competent supervisory authority without undue delay and, where "
        "feasible, not later than 72 hours after becoming aware of the breach, unless it is "
        "unlikely to result in a risk to people (then record it under Art. 33(5)). A later "
        "notification gives the reasons for the delay.",
        "source": "Regulation (EU) 2016/679 (GDPR), Art. 33(1) and 33(5); applies by "
        "establishment (Art. 3(1)) or by targeting people in the EEA (Art. 3(2)). "
        "https://eur-lex.europa.eu/eli/reg/2016/679/oj",
    },
    {
        "code": "gdpr-art34",
        "name": "GDPR Art. 34: communicate the breach to the people affected",
        "recipient": "Affected people",
        "waived_by": "art34",
        "profile_flag": "eu_establishment",
        "countries": EEA,
        "deadline_unit": "none",
        "terms": "When the breach is likely to result in a high risk, tell the people affected "
        "without undue delay, in clear and plain language. No fixed number of hours: "
        "exemptions in Art. 34(3)(a)-(c).",
        "source": "Regulation (EU) 2016/679 (GDPR), Art. 34(1)-(3). "
        "https://eur-lex.europa.eu/eli/reg/2016/679/oj",
    },
    {
        "code": "uk-gdpr-art33",
        "name": "UK GDPR Art. 33: notify the ICO",
        "recipient": "Information Commissioner's Office (ICO)",
        "waived_by": "art33",
        "profile_flag": "uk_establishment",
        "countries": ["GB"],
        "deadline_amount": 72,
        "deadline_unit": "hours",
        "terms": "Report to the ICO without undue delay and, where feasible, within 72 hours "
        "of becoming aware, unless the breach is unlikely to result in a risk to people.",
        "source": "UK GDPR, Art. 33(1) (Regulation (EU) 2016/679 as retained and amended by "
        "the Data Protection, Privacy and Electronic Communications (Amendments etc.) (EU "
        "Exit) Regulations 2019). https://ico.org.uk/for-organisations/report-a-breach/",
    },
    {
        "code": "nis2-early-warning",
        "name": "NIS2: early warning",
        "recipient": "CSIRT or competent authority",
        "profile_flag": "nis2_entity",
        "deadline_amount": 24,
        "deadline_unit": "hours",
        "terms": "Early warning of a significant incident without undue delay and in any event "
        "within 24 hours of becoming aware of it, saying whether it is suspected to be "
        "unlawful or malicious and whether it could have a cross-border impact.",
        "source": "Directive (EU) 2022/2555 (NIS2), Art. 23(4)(a). "
        "https://eur-lex.europa.eu/eli/dir/2022/2555/oj",
    },
    {
        "code": "nis2-notification",
        "name": "NIS2: incident notification",
        "recipient": "CSIRT or competent authority",
        "profile_flag": "nis2_entity",
        "deadline_amount": 72,
        "deadline_unit": "hours",
        "terms": "Incident notification without undue delay and in any event within 72 hours "
        "of becoming aware of the significant incident, updating the early warning with an "
        "initial assessment (severity, impact, indicators of compromise).",
        "source": "Directive (EU) 2022/2555 (NIS2), Art. 23(4)(b). "
        "https://eur-lex.europa.eu/eli/dir/2022/2555/oj",
    },
    {
        "code": "nis2-final-report",
        "name": "NIS2: final report",
        "recipient": "CSIRT or competent authority",
        "profile_flag": "nis2_entity",
        "clock_start": "preceding_filing",
        "follows": "nis2-notification",
        "deadline_amount": 1,
        "deadline_unit": "months",
        "terms": "Final report not later than one month after the submission of the incident "
        "notification: detailed description, type of threat or root cause, mitigation "
        "measures, cross-border impact.",
        "source": "Directive (EU) 2022/2555 (NIS2), Art. 23(4)(d). "
        "https://eur-lex.europa.eu/eli/dir/2022/2555/oj",
    },
    {
        "code": "hipaa-individuals",
        "name": "HIPAA: notify affected individuals",
        "recipient": "Affected individuals",
        "profile_flag": "hipaa_covered",
        "deadline_amount": 60,
        "deadline_unit": "days",
        "terms": "Notify each affected individual without unreasonable delay and in no case "
        "later than 60 calendar days after discovery of the breach.",
        "source": "45 CFR 164.404(b) (HIPAA Breach Notification Rule). "
        "https://www.ecfr.gov/current/title-45/section-164.404",
    },
    {
        "code": "hipaa-hhs",
        "name": "HIPAA: notify the Secretary of HHS (500 or more)",
        "recipient": "U.S. Department of Health and Human Services (OCR)",
        "profile_flag": "hipaa_covered",
        "min_affected": 500,
        "deadline_amount": 60,
        "deadline_unit": "days",
        "terms": "A breach involving 500 or more individuals is reported to the Secretary "
        "contemporaneously with the individual notices, no later than 60 calendar days after "
        "discovery (smaller breaches go in the annual log, not tracked here).",
        "source": "45 CFR 164.408(b). https://www.ecfr.gov/current/title-45/section-164.408",
    },
    {
        "code": "hipaa-media",
        "name": "HIPAA: notify prominent media (more than 500)",
        "recipient": "Prominent media outlets",
        "profile_flag": "hipaa_covered",
        "min_affected": 501,
        "deadline_amount": 60,
        "deadline_unit": "days",
        "terms": "A breach involving more than 500 residents of a State or jurisdiction is "
        "announced to prominent media outlets serving it, no later than 60 calendar days "
        "after discovery. Counted here over the whole scope: check per state.",
        "source": "45 CFR 164.406. https://www.ecfr.gov/current/title-45/section-164.406",
    },
    {
        "code": "sec-8k-item-1-05",
        "name": "SEC Form 8-K Item 1.05: material cybersecurity incident",
        "recipient": "U.S. Securities and Exchange Commission (EDGAR)",
        "profile_flag": "sec_registrant",
        "clock_start": "materiality",
        "deadline_amount": 4,
        "deadline_unit": "us_business_days",
        "due_local_time": "17:30",
        "due_timezone": "America/New_York",
        "terms": "File Form 8-K Item 1.05 within four business days after determining that the "
        "incident is material. Business days exclude weekends and US federal holidays; EDGAR "
        "treats a filing after 17:30 Eastern time as filed the next business day.",
        "source": "Form 8-K, Item 1.05 and General Instruction B.1 (Release 33-11216, 2023); "
        "Regulation S-T Rule 13(a)(4) (17:30 ET cut-off); federal holidays per 5 U.S.C. 6103. "
        "https://www.sec.gov/files/form8-k.pdf",
    },
    _state(
        "us-ca",
        "California",
        30,
        "Cal. Civ. Code § 1798.82(a), as amended by SB 446 (2025): within 30 calendar days of "
        "discovery or notification of the breach.",
        "Notify California residents whose unencrypted personal information was acquired "
        "within 30 calendar days of discovery.",
        region="CA",
    ),
    _state(
        "us-ny",
        "New York",
        30,
        "N.Y. Gen. Bus. Law § 899-aa(2), as amended in December 2024: within 30 days after "
        "discovery of the breach.",
        "Notify affected New York residents within 30 days after discovery; the AG, the "
        "Department of State and the Division of State Police are told too.",
        region="NY",
    ),
    _state(
        "us-co",
        "Colorado",
        30,
        "Colo. Rev. Stat. § 6-1-716(2): not later than 30 days after the date of determination "
        "that a security breach occurred.",
        "Notify affected Colorado residents within 30 days after determining that a breach "
        "occurred.",
        region="CO",
    ),
    _state(
        "us-fl",
        "Florida",
        30,
        "Fla. Stat. § 501.171(4)(a): no later than 30 days after the determination of a "
        "breach or reason to believe a breach occurred.",
        "Notify affected Florida residents within 30 days after determining the breach.",
        region="FL",
    ),
    _state(
        "us-wa",
        "Washington",
        30,
        "Rev. Code Wash. § 19.255.010(8): no more than 30 calendar days after the breach was "
        "discovered.",
        "Notify affected Washington residents within 30 calendar days after discovery.",
        region="WA",
    ),
    _state(
        "us-tx-individuals",
        "Texas",
        60,
        "Tex. Bus. & Com. Code § 521.053(b): not later than the 60th day after the date the "
        "breach is determined to have occurred.",
        "Notify affected Texas residents within 60 days after determining the breach.",
        region="TX",
    ),
    {
        "code": "us-tx-attorney-general",
        "name": "Texas: notify the Attorney General (250 or more residents)",
        "recipient": "Texas Attorney General",
        "countries": ["US"],
        "regions": ["TX"],
        "min_affected": 250,
        "deadline_amount": 30,
        "deadline_unit": "days",
        "terms": "A breach involving at least 250 Texas residents is reported to the Attorney "
        "General through the AG's online form within 30 days after the determination.",
        "source": "Tex. Bus. & Com. Code § 521.053(i), as amended by SB 768 (2023).",
    },
    _state(
        "us-de",
        "Delaware",
        60,
        "6 Del. C. § 12B-102(c): not later than 60 days after determination of the breach.",
        "Notify affected Delaware residents within 60 days after determining the breach.",
        region="DE",
    ),
]


def seed(apps, schema_editor):
    Regime = apps.get_model("incidents", "Regime")
    for data in REGIMES:
        data = dict(data)
        follows = data.pop("follows", None)
        if follows:
            data["follows"] = Regime.objects.get(code=follows)
        Regime.objects.update_or_create(code=data.pop("code"), defaults=data)


def unseed(apps, schema_editor):
    Regime = apps.get_model("incidents", "Regime")
    Regime.objects.filter(code__in=[r["code"] for r in REGIMES], obligations=None).delete()


class Migration(migrations.Migration):
    dependencies = [("incidents", "0003_regime_waived_by")]

    operations = [migrations.RunPython(seed, unseed)]
