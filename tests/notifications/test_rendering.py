import pytest

from notifications.rendering import RenderError, message_render, template_source_problems

FORBIDDEN_TAGS = [
    '{% include "admin/base.html" %}',
    '{% extends "admin/base.html" %}',
    "{% load static %}",
    '{% ssi "/etc/passwd" %}',
    '{% url "admin:index" %}',
    '{% static "x.css" %}',
    "{% debug %}",
    "{% now 'Y' %}",
    "{% csrf_token %}",
    "{% autoescape off %}{{ customer.first_name }}{% endautoescape %}",
]


@pytest.mark.parametrize("source", FORBIDDEN_TAGS)
def test_tags_that_reach_outside_the_message_are_refused(source):
    problems, _ = template_source_problems(part="text body", source=f"Hello {source}")
    assert len(problems) == 1
    assert problems[0].part == "text body"
    assert "Invalid block tag" in problems[0].message


@pytest.mark.parametrize("expression", ["x|safe", "customer.first_name|safe", "x|pprint"])
def test_filters_that_unescape_or_debug_are_refused(expression):
    problems, _ = template_source_problems(part="HTML body", source=f"{{{{ {expression} }}}}")
    assert [p.message.split(" (")[0] for p in problems] == [
        f"Invalid filter: '{expression.split('|')[1]}'"
    ]


@pytest.mark.parametrize(
    ("source", "unknown"),
    [
        ("Hi {{ customer.frist_name }}", "customer.frist_name"),
        ("{{ customer.first_name.upper }}", "customer.first_name.upper"),
        ("{% if secret %}x{% endif %}", "secret"),
        ("{% if contact_point and not incident.cost %}x{% endif %}", "incident.cost"),
        ("{% for c in customers %}{{ c }}{% endfor %}", "customers"),
        ("{% for c in affected_data %}{% empty %}{{ c }}{% endfor %}", "c"),
        ("{% with n=customer.first_name %}{{ n.lower }}{% endwith %}", "n.lower"),
        ("{{ contact_point|default:missing }}", "missing"),
    ],
)
def test_unknown_variables_are_found_wherever_they_hide(source, unknown):
    problems, _ = template_source_problems(part="subject", source=source)
    assert [p.message for p in problems] == [f"unknown variable {{{{ {unknown} }}}} (line 1)"]


def test_known_variables_loops_and_with_pass():
    source = (
        "{% for c in affected_data %}{{ forloop.counter }}. {{ c|upper }}{% endfor %}"
        "{% with n=customer.first_name %}{{ n }}{% endwith %}"
        "{{ incident.occurred_on|date:'j F Y' }}"
    )
    problems, used = template_source_problems(part="text body", source=source)
    assert problems == []
    assert {"affected_data", "customer.first_name", "incident.occurred_on"} <= used


def test_html_body_escapes_what_people_typed_and_text_body_does_not():
    context = {"customer": {"first_name": "<b>Ann</b> & co"}}
    rendered = message_render(
        subject="For {{ customer.first_name }}",
        text_body="Dear {{ customer.first_name }}",
        html_body="<p>Dear {{ customer.first_name }}</p>",
        context=context,
    )
    assert rendered.subject == "For <b>Ann</b> & co"
    assert rendered.text == "Dear <b>Ann</b> & co"
    assert rendered.html == "<p>Dear &lt;b&gt;Ann&lt;/b&gt; &amp; co</p>"


def test_rendering_a_variable_the_context_lacks_is_an_error_not_a_blank():
    with pytest.raises(RenderError, match="text"):
        message_render(
            subject="Hi",
            text_body="Your code: {{ remediation_code }}",
            html_body="<p>x</p>",
            context={"customer": {}},
        )


def test_rendered_messages_are_not_marked_safe_for_whoever_shows_them():
    from django.utils.safestring import SafeData

    rendered = message_render(
        subject="s",
        text_body="<b>{{ contact_point }}</b>",
        html_body="<p>{{ contact_point }}</p>",
        context={"contact_point": "x"},
    )
    assert not any(isinstance(part, SafeData) for part in rendered.__dict__.values())


def test_the_frame_is_laid_out_once_and_each_message_gets_only_its_own_parts():
    import datetime

    from config.models import CompanyProfile
    from notifications import rendering
    from notifications.rendering import CodeInfo, RenderedMessage, breach_email_compose

    profile = CompanyProfile(legal_name="Acme GmbH", dpo_name="Dana", dpo_email="dpo@acme.test")
    rendering._FRAMES.clear()
    messages = []
    for name, code in (("Ann <b>", "CODE-1"), ("Bo & Co", "CODE-2")):
        words = RenderedMessage(
            subject=f"About your data, {name}",
            text=f"Dear {name},\nsee the code.",
            html=f"<p>Dear {name.replace('<', '&lt;').replace('&', '&amp;')},</p>"
            '<p><a href="https://acme.test/x">help</a></p>',
        )
        messages.append(
            breach_email_compose(
                rendered=words,
                language="en",
                reference="INC-7",
                sent_on=datetime.date(2026, 11, 30),
                data_categories=["payment_card"],
                code=CodeInfo(
                    code=code,
                    vendor="Exp <ID>",
                    expires_on=datetime.date(2027, 6, 30),
                    redeem_url="https://exp.test/r",
                ),
                authority="BfDI",
                profile=profile,
            )
        )
    assert len(rendering._FRAMES) == 1
    first, second = messages
    assert "CODE-1" in first.html and "CODE-2" not in first.html
    assert "CODE-2" in second.html and "CODE-1" not in second.html
    assert "About your data, Ann &lt;b&gt;" in first.html and "Dear Ann <b>," in first.text
    assert "Bo &amp; Co" in second.html and "Ann" not in second.html + second.text
    assert "Exp &lt;ID&gt;" in first.html and "Exp <ID>" in first.text
    # The words get the frame's styles as inside the whole document; nothing is left over.
    assert '<a href="https://acme.test/x" style="color: #0b5cad;">' in second.html
    assert "BDFRAME" not in first.html + first.text + second.html + second.text
    assert "<style" not in second.html and 'lang="en"' in second.html
