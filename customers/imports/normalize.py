"""One row of any CRM export, placed by its layout, turned into the customer's fields.

`row_normalize` is the only place a row's meaning is decided: the command line, the
admin's preview and the background job all go through it.
"""

import fnmatch
import hashlib
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import NamedTuple

import phonenumbers
import pycountry

from customers.regions import region_normalize

# Our fields a layout or mapping can fill. `email_opt_out` is the inverse of consent,
# as Salesforce and Zoho export it.
FIELDS = (
    "external_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "street",
    "postal_code",
    "city",
    "region",
    "country",
    "language",
    "marketing_consent",
    "email_opt_out",
    "lifecycle_stage",
)

MAX_LENGTHS = {
    "external_id": 128,
    "first_name": 150,
    "last_name": 150,
    "email": 254,
    "phone": 64,
    "postal_code": 32,
    "city": 128,
    "region": 128,
    "country": 128,
    "language": 16,
    "lifecycle_stage": 64,
}

GRANTED = "granted"
WITHDRAWN = "withdrawn"

_CONSENT_YES = {
    "true", "yes", "y", "1", "ja", "j", "oui", "si", "sí", "allow", "allowed", "opted in",
    "opt-in", "subscribed", "marketing contact", "granted",
}  # fmt: skip
_CONSENT_NO = {
    "false", "no", "n", "0", "nein", "non", "do not allow", "not allowed", "opted out",
    "opt-out", "unsubscribed", "non-marketing contact", "withdrawn",
}  # fmt: skip

_EMAIL_RE = re.compile(r"^[^@\s,;<>()\[\]\"]+@[^@\s,;<>()\[\]\"]+\.[^@\s,;<>()\[\]\".]{2,}$")
_E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")
# Separators people write inside international numbers, and the "(0)" trunk prefix that
# is dialled only from inside the country: "+49 (0)30 123-456" is +4930123456.
_PHONE_NOISE_RE = re.compile(r"\(0\)|[\s\-().\/]")

_COUNTRY_ALIASES = {
    "uk": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "america": "US",
    "deutschland": "DE",
    "österreich": "AT",
    "schweiz": "CH",
    "frankreich": "FR",
    "spanien": "ES",
    "italien": "IT",
    "niederlande": "NL",
    "holland": "NL",
    "the netherlands": "NL",
    "españa": "ES",
    "italia": "IT",
    "nederland": "NL",
    "belgië": "BE",
    "belgique": "BE",
    "polska": "PL",
}


def _country_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for country in pycountry.countries:
        code = country.alpha_2
        for name in (
            code,
            country.alpha_3,
            country.name,
            getattr(country, "common_name", ""),
            getattr(country, "official_name", ""),
        ):
            if name:
                table[name.casefold()] = code
    table.update(_COUNTRY_ALIASES)
    return table


_COUNTRIES = _country_table()


class RowRejected(Exception):
    def __init__(self, field: str, reason: str, value: str = "") -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason
        self.value = value


class CustomerRow(NamedTuple):
    """A row as the customer record will hold it. Empty strings mean "the file said nothing".

    A tuple, because a million of them go to the staging table as they are.
    """

    external_id: str
    first_name: str
    last_name: str
    email: str
    email_normalized: str
    email_status: str
    # Why the email is no merge key: "" (it is one), "malformed", "placeholder"; the
    # merge adds "shared" for an address several external ids of one source carry.
    email_flag: str
    phone: str
    street: str
    postal_code: str
    city: str
    region: str
    country: str
    country_raw: str
    language: str
    consent: str
    lifecycle_stage: str
    row_hash: str


def email_normalize(value: str) -> tuple[str, str, str]:
    """(email as given but trimmed, matching key, status). A malformed address is kept.

    A malformed address gets no matching key: people whose CRM garbled their address the
    same way ("@example.org") are different people.
    """
    email = value.strip()
    if not email:
        return "", "", "missing"
    if _EMAIL_RE.match(email):
        return email, email.casefold(), "valid"
    return email, "", "undeliverable"


class Placeholders:
    """The admin's list of placeholder address patterns ("noemail@*"), as one matcher.

    Patterns are shell-style (`*` any run of characters, `?` one), matched against the
    whole address case-insensitively.
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        parts = [fnmatch.translate(p.strip().casefold()) for p in patterns if p.strip()]
        self._regex = re.compile("|".join(parts)) if parts else None

    def match(self, key: str) -> bool:
        return bool(key) and self._regex is not None and self._regex.match(key) is not None


NO_PLACEHOLDERS = Placeholders(())


def country_normalize(value: str) -> tuple[str, str]:
    """(ISO 3166 alpha-2, the raw value when it could not be placed)."""
    text = value.strip()
    if not text:
        return "", ""
    code = _COUNTRIES.get(text.casefold())
    return (code, "") if code else ("", text)


@lru_cache(maxsize=65536)
def phone_normalize(value: str, region: str) -> str:
    """E.164 when the number parses for the customer's country, else as written."""
    text = value.strip()
    if not text or _E164_RE.match(text):
        return text
    if text.startswith("+"):
        # Most international numbers need only their separators dropped; parsing them
        # fully costs twenty times as much.
        compact = _PHONE_NOISE_RE.sub("", text)
        if _E164_RE.match(compact):
            return compact
    try:
        number = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException:
        return text
    if not phonenumbers.is_possible_number(number):
        return text
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def consent_normalize(value: str, *, inverted: bool = False) -> str:
    text = value.strip().casefold()
    if not text:
        return ""
    if text in _CONSENT_YES:
        yes = True
    elif text in _CONSENT_NO:
        yes = False
    else:
        raise RowRejected(
            "email_opt_out" if inverted else "marketing_consent",
            "consent value not understood",
            value,
        )
    if inverted:
        # An opt-out flag that is false says the person did not opt out, not that they
        # opted in: it states nothing about consent.
        return WITHDRAWN if yes else ""
    return GRANTED if yes else WITHDRAWN


def row_normalize(
    raw: Mapping[str, str], *, placeholders: Placeholders = NO_PLACEHOLDERS
) -> CustomerRow:
    """Turn one placed row (our field -> the file's text) into a CustomerRow.

    Raises RowRejected for a row the record cannot take: neither an external id nor an
    email that names one person, or a value too long for its field. Everything else is
    kept, flagged where it needs to be (malformed or placeholder email, unknown
    country). Text that looks like a spreadsheet formula is kept as the text it is;
    exports escape it.
    """
    get = raw.get
    for field, text in raw.items():
        if "\x00" in text:
            raise RowRejected(field, "contains a NUL character (binary data)")
    for field, limit in MAX_LENGTHS.items():
        text = get(field) or ""
        if len(text) > limit:
            raise RowRejected(field, f"longer than {limit} characters", text[:100])
    email, email_normalized, email_status = email_normalize(get("email") or "")
    email_flag = ""
    if email and not email_normalized:
        email_flag = "malformed"
    elif placeholders.match(email_normalized):
        # Not this person's own address: it joins nobody and is mailed nothing.
        email_flag, email_normalized, email_status = "placeholder", "", "shared"
    external_id = (get("external_id") or "").strip()
    if not external_id:
        if not email_normalized:
            if email_flag:
                raise RowRejected(
                    "external_id",
                    f"no external id, and the email is {email_flag}: nothing tells this "
                    "person apart",
                    email[:100],
                )
            raise RowRejected("external_id", "neither an external id nor an email")
        # Without an id of its own the row is known to its source by its email.
        external_id = f"email:{email_normalized}"[:128]
    country, country_raw = country_normalize(get("country") or "")
    consent = consent_normalize(get("marketing_consent") or "")
    opt_out = consent_normalize(get("email_opt_out") or "", inverted=True)
    if opt_out:
        consent = opt_out
    values = (
        external_id,
        (get("first_name") or "").strip(),
        (get("last_name") or "").strip(),
        email,
        email_normalized,
        email_status,
        email_flag,
        phone_normalize(get("phone") or "", country),
        (get("street") or "").strip(),
        (get("postal_code") or "").strip(),
        (get("city") or "").strip(),
        region_normalize(get("region") or "", country, get("postal_code") or ""),
        country,
        country_raw,
        (get("language") or "").strip().lower(),
        consent,
        (get("lifecycle_stage") or "").strip(),
    )
    return CustomerRow(*values, hashlib.sha256("\x1f".join(values).encode()).hexdigest())
