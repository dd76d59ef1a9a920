"""The dependency order of the code: a kernel in `config/` that imports no app, the apps
in one direction (customers <- incidents <- campaigns, notifications; campaigns and
notifications never import each other), and the composition above them all.

Every import is read from the source (module level and inside functions), so an arrow
against the order fails here with its file and line, before it becomes a cycle.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# config modules that compose the apps: settings, urls, the dashboard, the demo,
# housekeeping, the commands. Everything else in config/ is the kernel.
COMPOSITION = (
    "config.settings",
    "config.urls",
    "config.wsgi",
    "config.asgi",
    "config.apps",
    "config.dashboard",
    "config.demo",
    "config.demo_story",
    "config.tasks",
    "config.checks",
    "config.readiness",
    "config.management",
    "config.templatetags",
)

# What each layer may import, besides itself.
ALLOWED = {
    "kernel": {"kernel"},
    "customers": {"kernel"},
    "incidents": {"kernel", "customers"},
    "campaigns": {"kernel", "customers", "incidents"},
    "notifications": {"kernel", "customers", "incidents"},
    "composition": {"kernel", "customers", "incidents", "campaigns", "notifications"},
}
APPS = ("customers", "incidents", "campaigns", "notifications")


def layer(module: str) -> str | None:
    top = module.split(".")[0]
    if top in APPS:
        return top
    if top != "config":
        return None
    if any(module == c or module.startswith(c + ".") for c in COMPOSITION):
        return "composition"
    return "kernel"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.AST, package: tuple[str, ...]) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from config import roles` imports config.roles.
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def arrows_against_the_order(path: Path, text: str) -> list[str]:
    """The imports of `text`, read as the file at `path`, that break the order."""
    module = module_name(path)
    source = layer(module)
    if source is None:
        return []
    wrong = []
    package = path.relative_to(ROOT).parent.parts
    for line, target_module in imported(ast.parse(text), package):
        target = layer(target_module)
        if target is not None and target != source and target not in ALLOWED[source]:
            wrong.append(f"{path.relative_to(ROOT)}:{line}: {source} imports {target_module}")
    return wrong


def sources() -> list[Path]:
    return sorted(
        p
        for top in ("config", *APPS)
        for p in (ROOT / top).rglob("*.py")
        if "migrations" not in p.parts
    )


def test_every_import_follows_the_dependency_order():
    wrong = [arrow for p in sources() for arrow in arrows_against_the_order(p, p.read_text())]
    assert wrong == []


@pytest.mark.parametrize(
    ("module", "text", "complaint"),
    [
        ("config/masking.py", "from customers.models import Customer", "kernel imports customers"),
        (
            "config/db.py",
            "def f():\n    from config import dashboard",
            "imports config.dashboard",
        ),
        ("customers/selectors.py", "from incidents import models", "customers imports incidents"),
        (
            "incidents/rules.py",
            "def f():\n    import campaigns.models",
            "incidents imports campaigns",
        ),
        ("campaigns/x.py", "from notifications.models import N", "campaigns imports notifications"),
        (
            "notifications/x.py",
            "from ..campaigns import services",
            "notifications imports campaigns",
        ),
    ],
)
def test_the_order_test_catches_an_arrow_against_it(module, text, complaint):
    wrong = arrows_against_the_order(ROOT / module, text)
    assert len(wrong) == 1 and complaint in wrong[0], wrong
