"""Values the import could not normalise are kept as written and listed for a person to fix."""

import html
import re

import pytest
from django.urls import reverse

from config import roles

from .conftest import run_import

pytestmark = pytest.mark.django_db

SF = (
    "Contact ID,First Name,Last Name,Email,Phone,Mailing Street,Mailing City,"
    "Mailing State/Province,Mailing Zip/Postal Code,Mailing Country\n"
)
ROWS = (
    "1,Clean,Person,clean@example.com,+1 512 555 0100,1 Main St,Austin,Texas,78701,USA\n"
    "2,Bad,Email,bad.example.com,+1 512 555 0101,2 Main St,Austin,TX,78701,US\n"
    "3,Bad,Phone,phone@example.com,call reception,3 Main St,Austin,tx,78701,US\n"
    "4,Bad,Region,region@example.com,+1 512 555 0103,4 Main St,Austin,Texass,78701,US\n"
    "5,Bad,Country,country@example.com,,5 Main St,Atlantis City,,,Atlantis\n"
)


def follow(client, page: str, text: str) -> str:
    match = re.search(r'<a href="([^"]+)"[^>]*>\s*' + re.escape(text) + r"\s*</a>", page)
    assert match, f"no link {text!r}"
    url = reverse("admin:customers_customer_changelist") + html.unescape(match.group(1))
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def shown(page: str) -> set[str]:
    return set(re.findall(r"Bad \w+|Clean Person", page))


def test_each_kind_of_value_kept_as_written_is_one_click_from_the_customer_list(client, make_user):
    run_import((SF + ROWS).encode(), source="salesforce")
    client.force_login(make_user("mo", roles.MARKETING_OPERATOR))
    listing = client.get(reverse("admin:customers_customer_changelist")).content.decode()
    assert "By kept as written (to fix)" in listing

    assert shown(follow(client, listing, "Malformed email")) == {"Bad Email"}
    assert shown(follow(client, listing, "Phone not in international format")) == {"Bad Phone"}
    assert shown(follow(client, listing, "Region / state not recognised")) == {"Bad Region"}
    assert shown(follow(client, listing, "Country not recognised")) == {"Bad Country"}


def test_without_view_pii_the_list_is_not_narrowed_by_phone(client, make_user):
    run_import((SF + ROWS).encode(), source="salesforce")
    client.force_login(make_user("cmo", roles.CMO))
    url = reverse("admin:customers_customer_changelist")
    listing = client.get(url).content.decode()
    assert "Region / state not recognised" in listing
    assert "Phone not in international format" not in listing
    refused = client.get(url + "?fix=phone")
    # The admin's answer to a lookup it will not make: back to the list, narrowed by nothing.
    assert refused.status_code == 302 and refused.url.endswith("?e=1")
