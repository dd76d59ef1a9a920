"""Every CSV the product writes escapes formulas: no module calls `csv.writer` itself."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("config", "customers", "incidents", "campaigns", "notifications")


def test_no_product_module_writes_csv_around_the_escaping_writer():
    bare = [
        str(path.relative_to(ROOT))
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if path.name != "csv_safe.py"
        and re.search(r"\bcsv\.(writer|DictWriter)\(", path.read_text())
    ]
    assert bare == []
