"""Every CSV the product writes goes through `csv_writer`: a cell a spreadsheet would run
as a formula (=, +, -, @, tab, CR at its start) is written as text, with a leading
apostrophe. The print house opens the letter manifest in a spreadsheet too, and a name or
street imported from a CRM is whatever someone typed there.
"""

import csv
import re
from collections.abc import Iterable
from typing import Any

# A cell starting with one of these is run as a formula by Excel, LibreOffice or Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# A phone number as we store it (E.164, "+4930123456"): a "+" and digits call nothing, and
# a CRM reading the file back wants it as it is.
PHONE_NUMBER = re.compile(r"\+\d[\d ]*")


def cell_escape(value: Any) -> Any:
    """Text a spreadsheet would evaluate gets a leading apostrophe, so it shows as text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        if PHONE_NUMBER.fullmatch(value):
            return value
        return "'" + value
    return value


class _EscapingWriter:
    def __init__(self, out: Any, **kwargs: Any) -> None:
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([cell_escape(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(out: Any, **kwargs: Any) -> _EscapingWriter:
    """`csv.writer` whose every cell is escaped."""
    return _EscapingWriter(out, **kwargs)
