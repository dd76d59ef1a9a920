"""Sandboxed rendering of breach messages.

A dedicated template engine with no loaders and only the tags and filters listed here:
nothing that includes other templates, loads libraries, reaches the database or the file
system, or marks text safe. The context is plain strings and lists built by
`message_context`, never model instances, so no template can call a method. Every
variable a template uses is checked against `CONTEXT_VARIABLES` before a version can be
submitted or approved; rendering also refuses an unknown variable rather than leaving a
blank in someone's inbox.
"""

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from html import escape as html_escape
from typing import Any, cast

from django.template import Context, Node, NodeList, TemplateSyntaxError
from django.template.base import FilterExpression, TextNode, Variable, VariableNode
from django.template.defaulttags import (
    CommentNode,
    ForNode,
    IfNode,
    SpacelessNode,
    WithNode,
)

from config import template_sandbox
from config.services import ServiceError
from config.template_sandbox import IterationNode, TemplateLimitError, sandbox_render

# The tags, filters and limits are the kernel's sandbox, shared with campaign bodies.
register = template_sandbox.register
ALLOWED_TAGS = template_sandbox.ALLOWED_TAGS
ALLOWED_FILTERS = template_sandbox.ALLOWED_FILTERS

# What a template may use, and what each means; message_context builds exactly this.
CONTEXT_VARIABLES: dict[str, str] = {
    "customer.first_name": "The person's first name",
    "customer.last_name": "The person's last name",
    "customer.full_name": "First and last name (or the email when no name is known)",
    "incident.nature": "The nature of the breach, from the incident record",
    "incident.occurred_on": "When the breach happened (date), if known",
    "incident.became_aware_on": "When the company became aware of it (date)",
    "incident.likely_consequences": "The likely consequences, from the incident record",
    "incident.measures_taken": "The measures taken, from the incident record",
    "incident.measures_proposed": "The measures proposed and advised, from the incident record",
    "affected_data": "List of the person's own data categories involved, in words",
    "contact_point": "Where to get more information (the DPO contact point)",
    "reset_link": "The person's password reset link",
    "remediation_code": "The person's credit monitoring code",
    "redemption_link": (
        "The link by which the person redeems their code, which tells us they did "
        "(empty when they have no code)"
    ),
}
# Art. 34(2) GDPR (with Art. 33(3)(b)-(d)): what every message must tell the person.
ART34_VARIABLES: dict[str, str] = {
    "incident.nature": "the nature of the breach",
    "contact_point": "the contact point",
    "incident.likely_consequences": "the likely consequences",
    "incident.measures_taken": "the measures taken",
    "incident.measures_proposed": "the measures proposed and advised",
}
# The advice a data category calls for: reset instructions for passwords, monitoring for cards.
CATEGORY_VARIABLES: dict[str, dict[str, str]] = {
    "credentials": {"reset_link": "the password reset link"},
    "payment_card": {"remediation_code": "the credit monitoring code"},
    "bank_account": {"remediation_code": "the credit monitoring code"},
}
_FORLOOP = {"forloop.counter", "forloop.counter0", "forloop.first", "forloop.last"}
_INVALID = "\x00unknown variable\x00"


SandboxEngine = template_sandbox.SandboxEngine

# The context decides autoescaping: HTML bodies escape, subjects and text bodies do not.
ENGINE = template_sandbox.sandbox_engine(string_if_invalid=_INVALID)


class RenderError(ServiceError, ValueError):
    pass


@dataclass(frozen=True)
class TemplateProblem:
    part: str
    message: str

    def __str__(self) -> str:
        return f"{self.part}: {self.message}"


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


def _line(node: Node) -> str:
    token = getattr(node, "token", None)
    return f" (line {token.lineno})" if token is not None and token.lineno else ""


def _expression_paths(expression: FilterExpression) -> Iterator[str]:
    if isinstance(expression.var, Variable) and expression.var.lookups is not None:
        yield ".".join(expression.var.lookups)
    for _func, args in expression.filters:
        for is_variable, argument in args:
            if is_variable and argument.lookups is not None:
                yield ".".join(argument.lookups)


def _condition_paths(condition: Any) -> Iterator[str]:
    if condition is None:
        return
    value = getattr(condition, "value", None)
    if isinstance(value, FilterExpression):
        yield from _expression_paths(value)
        return
    for part in ("first", "second"):
        yield from _condition_paths(getattr(condition, part, None))


def _used(nodelist: NodeList, bound: frozenset[str]) -> Iterator[tuple[str, bool, str]]:
    """(variable path, allowed, where) for every variable the nodes use."""

    def judge(path: str, node: Node, scope: frozenset[str]) -> tuple[str, bool, str]:
        allowed = path in CONTEXT_VARIABLES or path in scope
        return path, allowed, _line(node)

    for node in nodelist:
        if isinstance(node, TextNode | CommentNode | IterationNode):
            continue
        if isinstance(node, VariableNode):
            for path in _expression_paths(node.filter_expression):
                yield judge(path, node, bound)
        elif isinstance(node, IfNode):
            for condition, branch in node.conditions_nodelists:
                for path in _condition_paths(condition):
                    yield judge(path, node, bound)
                yield from _used(branch, bound)
        elif isinstance(node, ForNode):
            # django-stubs types these loosely; the parser builds exactly these types.
            for path in _expression_paths(cast(FilterExpression, node.sequence)):
                yield judge(path, node, bound)
            loop_bound = bound | set(node.loopvars) | _FORLOOP
            yield from _used(cast(NodeList, node.nodelist_loop), loop_bound)
            yield from _used(cast(NodeList, node.nodelist_empty), bound)
        elif isinstance(node, WithNode):
            for expression in node.extra_context.values():
                for path in _expression_paths(cast(FilterExpression, expression)):
                    yield judge(path, node, bound)
            yield from _used(cast(NodeList, node.nodelist), bound | set(node.extra_context))
        elif isinstance(node, SpacelessNode):
            yield from _used(cast(NodeList, node.nodelist), bound)
        else:
            yield type(node).__name__, False, _line(node)


def template_source_problems(*, part: str, source: str) -> tuple[list[TemplateProblem], set[str]]:
    """Syntax errors, forbidden tags or filters and unknown variables in one part of a
    version, plus the variables it uses."""
    if not source.strip():
        return [TemplateProblem(part, "is empty")], set()
    try:
        template = ENGINE.from_string(source)
    except TemplateSyntaxError as error:
        return [
            TemplateProblem(
                part,
                f"{error} (allowed tags: {', '.join(sorted(ALLOWED_TAGS))}; "
                f"allowed filters: {', '.join(sorted(ALLOWED_FILTERS))})",
            )
        ], set()
    problems = []
    used = set()
    for path, allowed, where in _used(template.nodelist, frozenset()):
        if allowed:
            used.add(path)
        else:
            problems.append(TemplateProblem(part, f"unknown variable {{{{ {path} }}}}{where}"))
    return problems, used


# A template's own tags and variables pass through untouched; only the words around them
# are escaped (the HTML engine escapes what the variables fill in).
_TEMPLATE_TOKEN = re.compile(r"(\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\})", re.DOTALL)


def html_from_text(text: str) -> str:
    """The HTML part built from the plain-text body: a paragraph per blank-line-separated
    block, a <br> per line break, the words escaped and the template syntax kept."""

    def escape_words(block: str) -> str:
        parts = _TEMPLATE_TOKEN.split(block)
        return "".join(
            part if index % 2 else html_escape(part, quote=False)
            for index, part in enumerate(parts)
        )

    blocks = [b.strip() for b in re.split(r"\n\s*\n", text.replace("\r\n", "\n"))]
    return "\n".join(
        "<p>" + "<br>\n".join(escape_words(line) for line in block.split("\n")) + "</p>"
        for block in blocks
        if block
    )


def _plain(value: str) -> str:
    # str.join builds a new plain str; str() and f-strings would keep SafeString.
    return "".join([value])


@lru_cache(maxsize=512)
def _compiled(source: str) -> Any:
    # A wave renders the same few versions thousands of times: compile each source once.
    return ENGINE.from_string(source)


def message_render(
    *, subject: str, text_body: str, html_body: str, context: dict[str, Any]
) -> RenderedMessage:
    """Render one message; an unknown variable is an error, never a blank."""
    # Plain str, not SafeString: whoever shows a message (the admin preview) escapes it.
    try:
        rendered = RenderedMessage(
            subject=" ".join(
                sandbox_render(_compiled(subject), Context(context, autoescape=False)).split()
            ),
            text=_plain(sandbox_render(_compiled(text_body), Context(context, autoescape=False))),
            html=_plain(sandbox_render(_compiled(html_body), Context(context))),
        )
    except TemplateLimitError as error:
        raise RenderError(f"the message cannot be rendered: {error}") from error
    for part, value in (
        ("subject", rendered.subject),
        ("text", rendered.text),
        ("HTML", rendered.html),
    ):
        if _INVALID in value:
            raise RenderError(f"the {part} uses a variable the message context does not have")
    return rendered


# --- The frame around a breach message ------------------------------------------------
# Legal writes the words of the message; the frame says who it is from, which reference to
# quote, how to check it is genuine, this person's own data and code, and where to complain,
# in the person's language (English where a language has no wording here yet).
FRAME_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "reference": "Reference",
        "date": "Date",
        "genuine": "Is this message genuine?",
        "genuine_text": (
            "We never ask for your password by email. To check that this message comes from "
            "us, open our security page yourself and enter the reference {reference}:"
        ),
        "your_data": "Your data involved",
        "code": "Your credit monitoring code",
        "code_text": "Vendor: {vendor}. Code: {code}. Valid until {expires}.",
        "code_link": "Activate it at",
        "complaint": "Your right to complain",
        "complaint_text": (
            "You have the right to lodge a complaint with {authority} or with the data "
            "protection authority where you live or work."
        ),
        "complaint_default": "the data protection supervisory authority",
        "dpo": "Data protection officer",
        "registered": "Registered",
    },
    "de": {
        "reference": "Aktenzeichen",
        "date": "Datum",
        "genuine": "Ist diese Nachricht echt?",
        "genuine_text": (
            "Wir fragen nie per E-Mail nach Ihrem Passwort. Ob diese Nachricht von uns stammt, "
            "prüfen Sie auf unserer Sicherheitsseite mit dem Aktenzeichen {reference}:"
        ),
        "your_data": "Ihre betroffenen Daten",
        "code": "Ihr Code für die Bonitätsüberwachung",
        "code_text": "Anbieter: {vendor}. Code: {code}. Gültig bis {expires}.",
        "code_link": "Einlösen unter",
        "complaint": "Ihr Beschwerderecht",
        "complaint_text": (
            "Sie haben das Recht, sich bei {authority} oder bei der Datenschutzaufsichtsbehörde "
            "Ihres Wohn- oder Arbeitsorts zu beschweren."
        ),
        "complaint_default": "der zuständigen Datenschutzaufsichtsbehörde",
        "dpo": "Datenschutzbeauftragte(r)",
        "registered": "Registergericht",
    },
    "fr": {
        "reference": "Référence",
        "date": "Date",
        "genuine": "Ce message est-il authentique ?",
        "genuine_text": (
            "Nous ne demandons jamais votre mot de passe par e-mail. Pour vérifier que ce "
            "message vient de nous, ouvrez notre page de sécurité avec la référence {reference} :"
        ),
        "your_data": "Vos données concernées",
        "code": "Votre code de surveillance du crédit",
        "code_text": "Fournisseur : {vendor}. Code : {code}. Valable jusqu'au {expires}.",
        "code_link": "Activez-le sur",
        "complaint": "Votre droit de réclamation",
        "complaint_text": (
            "Vous avez le droit d'introduire une réclamation auprès de {authority} ou de "
            "l'autorité de protection des données de votre lieu de résidence ou de travail."
        ),
        "complaint_default": "l'autorité de contrôle compétente",
        "dpo": "Délégué à la protection des données",
        "registered": "Immatriculation",
    },
}


# Data categories in the person's language (the model's English labels otherwise).
CATEGORY_LABELS: dict[str, dict[str, str]] = {
    "de": {
        "contact": "Kontaktdaten",
        "identity": "Identität (Name, Geburtsdatum)",
        "credentials": "Zugangsdaten (Passwörter, Tokens)",
        "payment_card": "Zahlungskarte",
        "bank_account": "Bankkonto",
        "government_id": "Ausweisdokument",
        "health": "Gesundheitsdaten",
        "location": "Standortdaten",
        "behavioural": "Verhaltensdaten (Käufe, Surfverhalten)",
    },
    "fr": {
        "contact": "Coordonnées",
        "identity": "Identité (nom, date de naissance)",
        "credentials": "Identifiants (mots de passe, jetons)",
        "payment_card": "Carte de paiement",
        "bank_account": "Compte bancaire",
        "government_id": "Pièce d'identité",
        "health": "Santé",
        "location": "Localisation",
        "behavioural": "Comportement (achats, navigation)",
    },
}


def category_labels(categories: list[str], language: str) -> list[str]:
    from incidents.models import DataCategory

    english = dict(DataCategory.choices)
    own = CATEGORY_LABELS.get(language, {})
    return [own.get(c) or str(english.get(c, c)) for c in sorted(categories)]


@dataclass(frozen=True)
class CodeInfo:
    code: str
    vendor: str
    expires_on: Any
    redeem_url: str


def frame_labels(language: str) -> dict[str, str]:
    return FRAME_LABELS.get(language, FRAME_LABELS["en"])


# Stand-ins for one person's parts in a frame laid out once: plain letters and digits, so
# neither escaping nor the CSS inliner changes them.
_SALT = secrets.token_hex(6).upper()
_TOKENS = {name: f"BDFRAME{name.upper()}{_SALT}" for name in ("subject", "body", "code", "vendor")}
_FRAMES: dict[tuple[Any, ...], "_Frame"] = {}
FRAMES_KEPT = 256
_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


@dataclass(frozen=True)
class _Frame:
    html: str
    text: str
    css: str


def _profile_key(profile: Any) -> tuple[str, ...]:
    """Everything of the company profile the frame shows."""
    return (
        profile.legal_name,
        *profile.address_block,
        profile.registration,
        profile.dpo_name,
        profile.dpo_email,
        profile.dpo_phone or "",
        profile.genuine_check_url,
    )


def _frame(
    *,
    language: str,
    reference: str,
    sent_on: str,
    affected: tuple[str, ...],
    code: tuple[str, str] | None,
    authority: str,
    profile: Any,
) -> _Frame:
    """The layout around a message, rendered and inlined once per wave and language (and
    per set of data categories, code shape and authority): the costly part of a message."""
    key = (_profile_key(profile), language, reference, sent_on, affected, code, authority)
    found = _FRAMES.get(key)
    if found is None:
        if len(_FRAMES) >= FRAMES_KEPT:
            _FRAMES.clear()
        found = _FRAMES[key] = _frame_render(
            language=language,
            reference=reference,
            sent_on=sent_on,
            affected=affected,
            code=code,
            authority=authority,
            profile=profile,
        )
    return found


def _frame_render(
    *,
    language: str,
    reference: str,
    sent_on: str,
    affected: tuple[str, ...],
    code: tuple[str, str] | None,
    authority: str,
    profile: Any,
) -> _Frame:
    import css_inline
    from django.template.loader import render_to_string
    from django.utils.safestring import mark_safe

    labels = frame_labels(language)
    code_info = (
        CodeInfo(code=_TOKENS["code"], vendor=_TOKENS["vendor"], expires_on="", redeem_url=code[1])
        if code
        else None
    )
    context = {
        "lang": language,
        "company": profile,
        "reference": reference,
        "sent_on": sent_on,
        "labels": labels,
        "genuine_text": labels["genuine_text"].format(
            url=profile.genuine_check_url, reference=reference
        ),
        "affected_data": list(affected),
        "code": code_info,
        "code_text": (
            labels["code_text"].format(
                vendor=_TOKENS["vendor"], code=_TOKENS["code"], expires=code[0]
            )
            if code
            else ""
        ),
        "complaint_text": labels["complaint_text"].format(
            authority=authority or labels["complaint_default"]
        ),
        "subject": _TOKENS["subject"],
    }
    html = render_to_string(
        "notifications/email/breach.html",
        {**context, "body": mark_safe(_TOKENS["body"])},  # noqa: S308
    )
    text = render_to_string("notifications/email/breach.txt", {**context, "body": _TOKENS["body"]})
    found = _STYLE.search(html)
    return _Frame(
        html=_plain(css_inline.inline(html)), text=_plain(text), css=found[1] if found else ""
    )


def _fill(frame: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        frame = frame.replace(_TOKENS[name], value)
    return frame


def breach_email_compose(
    *,
    rendered: RenderedMessage,
    language: str,
    reference: str,
    sent_on: Any,
    data_categories: list[str],
    code: CodeInfo | None,
    authority: str,
    profile: Any = None,
) -> RenderedMessage:
    """The approved words inside the company's frame: a whole HTML document (tables,
    inlined CSS, `<html lang>`) and a plain-text part that says the same.

    `reference` is the one place the reference shown to the person comes from. The frame is
    laid out once (see `_frame`); each message fills in its own subject, words and code.
    """
    import css_inline
    from django.utils.html import escape

    from config.models import company_profile

    # A wave passes the profile it read once: one query per message would cost more than
    # the rendering itself.
    profile = profile or company_profile()
    frame = _frame(
        language=language,
        reference=reference,
        sent_on=sent_on.isoformat(),
        affected=tuple(category_labels(data_categories, language)),
        code=(code.expires_on.isoformat(), code.redeem_url) if code else None,
        authority=authority,
        profile=profile,
    )
    person = {"subject": rendered.subject}
    if code:
        person.update(code=code.code, vendor=code.vendor)
    # The person's parts go in first and the words last, so no value can fill a stand-in.
    # The version's HTML was rendered by the sandbox with every value escaped; it gets the
    # frame's styles inlined as it would inside the whole document.
    body = css_inline.inline_fragment(rendered.html, frame.css) if frame.css else rendered.html
    html = _fill(frame.html, {**{k: escape(v) for k, v in person.items()}, "body": body})
    text = _fill(frame.text, {**person, "body": rendered.text})
    return RenderedMessage(subject=rendered.subject, text=_plain(text), html=_plain(html))
