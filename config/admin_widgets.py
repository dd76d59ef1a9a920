"""Admin widgets that a screen reader can name.

Django's split date-time widget prints "Date:" and "Time:" as bare text and, since Django
4.0, points the field's label at neither input: axe-core counts two unlabelled inputs
(critical) on every page with one. Each input here carries its own accessible name.
"""

from typing import Any

from django.contrib.admin.widgets import AdminSplitDateTime


class LabelledSplitDateTime(AdminSplitDateTime):
    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        date, time = self.widgets
        date.attrs["aria-label"] = "Date (YYYY-MM-DD)"
        time.attrs["aria-label"] = "Time (HH:MM:SS)"
