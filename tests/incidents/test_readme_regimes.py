"""The README's list of regimes is the data's: regenerate it with
`python manage.py regimes_table --write` after changing incidents/regime_data.py."""

from pathlib import Path

import pytest
from django.conf import settings

from incidents.management.commands.regimes_table import END, START, regimes_table

pytestmark = pytest.mark.django_db


def test_the_readme_table_matches_the_regimes():
    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    written = readme.split(START, 1)[1].split(END, 1)[0].strip()
    assert written == regimes_table(), "run: python manage.py regimes_table --write"
