"""Sandboxed rendering of breach messages.

A dedicated template engine with no loaders and only the tags and filters listed here:
nothing that includes other templates, loads libraries, reaches the database or the file
system, or marks text safe. The context is plain strings and lists built by
`message_context`, never model instances, so no template can call a method. Every
variable a template uses is checked against `CONTEXT_VARIABLES` before a version can be
submitted or approved; rendering also refuses an unknown variable rather than leaving a
blank in someone's inbox.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
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


class RenderError(ValueError):
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
