"""Every timeline event kind is declared with the words a person reads, and the timeline
refuses one that is not: an auditor never meets an unnamed code."""

import ast
import re
from pathlib import Path

import pytest

from config.events import UndeclaredEventKindError, event_kind, event_kinds
from incidents.models import TimelineEvent
from incidents.services import timeline_append
from tests.incidents.factories import IncidentFactory

ROOT = Path(__file__).resolve().parents[2]
APPS = ("config", "customers", "incidents", "campaigns", "notifications")
CODE = re.compile(r"^[a-z_]+\.[a-z0-9_]+$")


def kinds_written(text: str) -> list[tuple[int, str]]:
    """The event kinds a source passes as `kind=` to timeline_append: literals and
    module-level string constants as their value, an f-string as its source text (to be
    declared instead). Declared constants (`events.X`) are declared by construction."""
    tree = ast.parse(text)
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or getattr(node.func, "id", None) != "timeline_append":
            continue
        for keyword in node.keywords:
            if keyword.arg != "kind":
                continue
            value = keyword.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.append((node.lineno, value.value))
            elif isinstance(value, ast.Name) and value.id in constants:
                found.append((node.lineno, constants[value.id]))
            elif isinstance(value, ast.JoinedStr):
                found.append((node.lineno, f"f-string {ast.unparse(value)}"))
    return found


def undeclared(path: Path, text: str) -> list[str]:
    wrong = []
    for line, kind in kinds_written(text):
        try:
            event_kind(kind)
        except UndeclaredEventKindError:
            wrong.append(f"{path.relative_to(ROOT)}:{line}: {kind}")
    return wrong


def test_every_kind_the_code_writes_is_declared():
    paths = [p for app in APPS for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts]
    assert [w for p in paths for w in undeclared(p, p.read_text())] == []


def test_every_declared_kind_has_words_for_a_reader():
    kinds = event_kinds()
    assert len(kinds) >= 40
    for kind in kinds:
        assert CODE.match(kind.code), kind
        assert kind.label and kind.label[0].isupper() and kind.label != kind.code, kind
        assert kind.description.endswith("."), kind


@pytest.mark.parametrize(
    "text",
    [
        'timeline_append(incident_id=1, kind="incident.reopened", actor=None)',
        'timeline_append(incident_id=1, kind=f"incident.{target}", actor=None)',
        'KIND = "incident.reopened"\ntimeline_append(incident_id=1, kind=KIND, actor=None)',
    ],
)
def test_the_declaration_test_catches_an_undeclared_kind(text):
    assert len(undeclared(ROOT / "incidents/services/x.py", text)) == 1


@pytest.mark.django_db
def test_the_timeline_refuses_an_undeclared_kind_and_writes_nothing():
    incident = IncidentFactory.create()
    before = TimelineEvent.objects.filter(incident=incident).count()
    with pytest.raises(UndeclaredEventKindError, match=r"incident\.reopened"):
        timeline_append(incident_id=incident.pk, kind="incident.reopened", actor=None)
    assert TimelineEvent.objects.filter(incident=incident).count() == before
