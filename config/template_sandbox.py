"""The one template sandbox both message engines use (breach messages and campaigns).

Only the tags and filters listed here; nothing that includes other templates, loads
libraries, reaches the database or the file system, marks text safe, or dumps the
context ({% debug %}). And limits, because a reviewer's preview, a sign-off and a send
all render what someone typed: loops nest at most MAX_LOOP_NESTING deep, run at most
MAX_ITERATIONS times in all, stop after MAX_SECONDS, and a rendered part longer than
MAX_OUTPUT characters is refused.
"""

import time
from collections.abc import Callable
from datetime import date
from typing import Any

from django.template import Context, Engine, Library, Node, Template
from django.template import defaultfilters as f
from django.template import defaulttags as t
from django.template.base import Parser, Token
from django.template.defaulttags import ForNode

MAX_LOOP_NESTING = 2
MAX_ITERATIONS = 2_000
MAX_SECONDS = 2.0
MAX_OUTPUT = 200_000


class TemplateLimitError(ValueError):
    """The template asked for more work than any message needs."""


_BUDGET = "sandbox_budget"


def _budget(context: Context) -> dict[str, Any]:
    budget = context.render_context.get(_BUDGET)
    if budget is None:
        budget = {"iterations": 0, "depth": 0, "deadline": time.monotonic() + MAX_SECONDS}
        context.render_context[_BUDGET] = budget
    return budget


class IterationNode(Node):
    """First node of every loop body: counts the iteration and watches the clock."""

    def render(self, context: Context) -> str:
        budget = _budget(context)
        budget["iterations"] += 1
        if budget["iterations"] > MAX_ITERATIONS:
            raise TemplateLimitError(f"loops run more than {MAX_ITERATIONS} times in all")
        if time.monotonic() > budget["deadline"]:
            raise TemplateLimitError(f"rendering takes longer than {MAX_SECONDS:g} s")
        return ""


class LimitedForNode(ForNode):
    def render(self, context: Context) -> str:
        budget = _budget(context)
        budget["depth"] += 1
        try:
            if budget["depth"] > MAX_LOOP_NESTING:
                raise TemplateLimitError(f"loops nest more than {MAX_LOOP_NESTING} deep")
            return super().render(context)
        finally:
            budget["depth"] -= 1


def do_for(parser: Parser, token: Token) -> Node:
    node = t.do_for(parser, token)
    limited = LimitedForNode(
        node.loopvars,
        node.sequence,
        node.is_reversed,
        node.nodelist_loop,
        node.nodelist_empty,
    )
    limited.nodelist_loop.insert(0, IterationNode())  # type: ignore[arg-type]
    limited.token = node.token
    return limited


def date_filter(value: Any, arg: str | None = None) -> Any:
    # Django's date filter raises on text given a format: a message shows it as it is.
    if isinstance(value, date):
        return f.date(value, arg)
    return value


register = Library()
TAGS: dict[str, Callable[..., Any]] = {
    "if": t.do_if,
    "for": do_for,
    "with": t.do_with,
    "comment": t.comment,
    "spaceless": t.spaceless,
}
FILTERS: dict[str, Callable[..., Any]] = {
    "capfirst": f.capfirst,
    "date": date_filter,
    "default": f.default,
    "first": f.first,
    "join": f.join,
    "last": f.last,
    "length": f.length,
    "linebreaks": f.linebreaks_filter,
    "linebreaksbr": f.linebreaksbr,
    "lower": f.lower,
    "pluralize": f.pluralize,
    "title": f.title,
    "upper": f.upper,
    "wordwrap": f.wordwrap,
    "yesno": f.yesno,
}
for _name, _tag in TAGS.items():
    register.tag(_name, _tag)
for _name, _filter in FILTERS.items():
    register.filter(_name, _filter)

ALLOWED_TAGS = frozenset(register.tags)
ALLOWED_FILTERS = frozenset(register.filters)


class SandboxEngine(Engine):
    # Engine always adds its default builtins (including include/extends/load/debug/url);
    # this engine has only the library above.
    default_builtins: list[str] = []


def sandbox_engine(*, autoescape: bool = True, string_if_invalid: str = "") -> SandboxEngine:
    return SandboxEngine(
        loaders=[],
        libraries={},
        builtins=["config.template_sandbox"],
        autoescape=autoescape,
        string_if_invalid=string_if_invalid,
    )


def sandbox_render(template: Template, context: Context) -> str:
    """Render within the limits; a TemplateLimitError says which one was reached."""
    output = template.render(context)
    if len(output) > MAX_OUTPUT:
        raise TemplateLimitError(f"the rendered text is longer than {MAX_OUTPUT:,} characters")
    return output
