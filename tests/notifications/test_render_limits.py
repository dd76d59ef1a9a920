"""One sandbox for both message engines, with limits a hostile template meets quickly."""

import time

import pytest
from django.core.exceptions import ValidationError

from campaigns.services import CampaignError, campaign_render, campaign_template_check
from notifications.rendering import RenderError, message_render

pytestmark = pytest.mark.django_db

LONG_TEXT = "x" * 5_000
CONTEXT = {
    "customer": {"first_name": "Ann", "last_name": "Lee", "full_name": "Ann Lee"},
    "incident": {"nature": LONG_TEXT, "became_aware_on": "not a date"},
    "affected_data": ["Passwords", "Contact details"],
}


def _render(text_body: str) -> None:
    message_render(subject="Hi", text_body=text_body, html_body="<p>x</p>", context=CONTEXT)


@pytest.mark.parametrize(
    ("source", "limit"),
    [
        # Loops over the characters of incident text, nested: millions of iterations.
        (
            "{% for a in incident.nature %}{% for b in incident.nature %}{{ b }}"
            "{% endfor %}{% endfor %}",
            "more than 2000 times",
        ),
        (
            "{% for a in affected_data %}{% for b in affected_data %}{% for c in affected_data %}"
            "{{ c }}{% endfor %}{% endfor %}{% endfor %}",
            "nest more than 2 deep",
        ),
        (
            "{% for a in affected_data %}{% for b in incident.nature %}{{ incident.nature }}"
            "{% endfor %}{% endfor %}",
            "more than 2000 times|longer than",
        ),
    ],
)
def test_a_template_that_would_take_seconds_is_refused_quickly(source, limit):
    started = time.monotonic()
    with pytest.raises(RenderError, match=limit):
        _render(source)
    assert time.monotonic() - started < 3


def test_the_date_filter_on_text_shows_the_text_instead_of_failing():
    rendered = message_render(
        subject="Hi",
        text_body="{{ incident.became_aware_on|date:'j F Y' }}",
        html_body="<p>x</p>",
        context=CONTEXT,
    )
    assert rendered.text == "not a date"


@pytest.mark.parametrize(
    "body",
    [
        "{% debug %}",
        "{% include 'admin/base.html' %}",
        "{% url 'admin:index' %}",
        "{% load static %}",
        "{{ first_name|safe }}",
    ],
)
def test_campaign_bodies_lose_what_the_notice_sandbox_refuses(body):
    with pytest.raises(ValidationError):
        campaign_template_check(subject="Hello", body=body)


def test_a_campaign_body_meets_the_same_render_limits():
    class Campaign:
        name = "x" * 3_000
        subject = "Hi"
        body = (
            "{% for a in campaign_name %}{% for b in campaign_name %}{{ b }}{% endfor %}"
            "{% endfor %}"
        )

        def __str__(self) -> str:
            return "Spring sale"

    with pytest.raises(CampaignError, match="more than 2000 times"):
        campaign_render(campaign=Campaign(), customer={})  # type: ignore[arg-type]
