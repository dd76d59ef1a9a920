"""Open a CRM export as a header and a stream of rows, whatever it was saved as.

CSV: UTF-8 with or without BOM, UTF-16 (BOM or not) or Windows-1252, comma, semicolon
or tab, quoted multi-line fields. XLSX: openpyxl in read-only mode (rows stream; XML is
parsed by defusedxml, so entity tricks fail), after a check of the zip's sizes so a
small file cannot expand into gigabytes.
"""

import codecs
import csv
import datetime
import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings

from . import ImportFileError

SAMPLE_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t")

# Rows: (data row number, line where the row starts, cell texts in header order).
Row = tuple[int, int, list[str]]


@dataclass
class Table:
    kind: str
    headers: list[str]
    rows: Iterator[Row]
    encoding: str = ""
    delimiter: str = ""
    _position: Any = field(default=None, repr=False)
    # The text layer over the caller's stream, detached at the end so it does not close it.
    _text: io.TextIOWrapper | None = field(default=None, repr=False)

    def progress(self) -> int:
        """How far through the file the rows have got, in percent."""
        return min(99, int(self._position() * 100)) if self._position else 0


def _size(stream: IO[bytes]) -> int:
    here = stream.tell()
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(here)
    return size


def _looks_binary(sample: bytes) -> bool:
    controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
    return controls > max(1, len(sample) // 100)


def encoding_detect(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Text in UTF-16 has zero bytes (every Latin letter has one); without any, the
        # marker lies and decoding would turn the file into nonsense.
        if 0 not in sample[2:]:
            raise ImportFileError(
                "The file starts with a UTF-16 marker but is not UTF-16 text; "
                "save it again as UTF-8 or UTF-16."
            )
        return "utf-16"
    head = sample[:512]
    if len(head) >= 4:
        # ASCII text saved as UTF-16 without a BOM: every other byte is zero.
        if head[1::2].count(0) > len(head) // 4 and head[0::2].count(0) == 0:
            return "utf-16-le"
        if head[0::2].count(0) > len(head) // 4 and head[1::2].count(0) == 0:
            return "utf-16-be"
    if _looks_binary(sample):
        raise ImportFileError(
            "This is not a CSV or XLSX file (it holds binary data). "
            "Export the contacts as CSV or XLSX."
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    try:
        sample.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            "The file's encoding could not be recognised (not UTF-8, UTF-16 or Windows-1252)."
        ) from exc
    return "cp1252"


def _first_undecodable_line(stream: IO[bytes], encoding: str) -> str:
    """Where decoding fails, for the error message: the text layer reads ahead in blocks."""
    if "16" in encoding:
        return ""
    stream.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)()
    for number, raw in enumerate(stream, start=1):
        try:
            decoder.decode(raw)
        except UnicodeDecodeError:
            return f"line {number}"
    return ""


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_table(stream: IO[bytes], encoding: str) -> Table:
    sample = stream.read(SAMPLE_BYTES)
    stream.seek(0)
    if not sample.strip():
        raise ImportFileError("The file is empty.")
    if not encoding:
        encoding = encoding_detect(sample)
    else:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise ImportFileError(f"Unknown encoding {encoding!r}.") from exc
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
    try:
        return _csv_rows(stream, text, encoding)
    except BaseException:
        # Closing the text layer would close the caller's stream with it.
        text.detach()
        raise


def _csv_rows(stream: IO[bytes], text: io.TextIOWrapper, encoding: str) -> Table:
    try:
        first_line = text.readline()
        text.seek(0)
    except UnicodeDecodeError as exc:
        bad = _first_undecodable_line(stream, encoding) or "line 1"
        raise ImportFileError(
            f"The file is not valid {encoding} ({bad}); nothing was imported. "
            "Check the encoding it was saved with."
        ) from exc
    delimiter = _delimiter(first_line)
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = next(reader, None)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ImportFileError(f"The header line cannot be read: {exc}.") from exc
    if not header or not any(h.strip() for h in header):
        raise ImportFileError("The file is empty.")
    headers = [h.strip().lstrip("\ufeff") for h in header]
    if "\x00" in "".join(headers):
        raise ImportFileError("This is not a CSV or XLSX file (it holds binary data).")
    size = _size(stream) or 1
    position = [0.0]

    def rows() -> Iterator[Row]:
        row_no = 0
        line = reader.line_num
        try:
            for values in reader:
                start, line = line + 1, reader.line_num
                if not values or (len(values) == 1 and not values[0].strip()):
                    continue
                row_no += 1
                if not row_no % 4096:
                    position[0] = stream.tell() / size
                yield row_no, start, values
        except UnicodeDecodeError as exc:
            bad = _first_undecodable_line(stream, encoding) or f"after line {line}"
            raise ImportFileError(
                f"The file is not valid {encoding} ({bad}); nothing was imported. "
                "Check the encoding it was saved with."
            ) from exc
        except csv.Error as exc:
            raise ImportFileError(f"Line {line + 1} cannot be read: {exc}.") from exc

    return Table(
        "csv",
        headers,
        rows(),
        encoding=encoding,
        delimiter=delimiter,
        _position=lambda: position[0],
        _text=text,
    )


def _zip_check(stream: IO[bytes]) -> None:
    limit = settings.CUSTOMERS_IMPORT_XLSX_MAX_UNCOMPRESSED_MB * 1024 * 1024
    try:
        with zipfile.ZipFile(stream) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise ImportFileError("The XLSX file is damaged or truncated.") from exc
    total = sum(m.file_size for m in members)
    if total > limit:
        raise ImportFileError(
            f"The XLSX file would expand to {total // (1024 * 1024)} MB, over the "
            f"{limit // (1024 * 1024)} MB allowed; export it as CSV instead."
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > 1024 * 1024 and ratio > settings.CUSTOMERS_IMPORT_XLSX_MAX_RATIO:
            raise ImportFileError(
                f"The XLSX file is compressed {ratio:.0f} to 1 ({member.filename}), "
                "like a zip bomb; it was not opened."
            )
    stream.seek(0)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return str(value)


def _xlsx_table(stream: IO[bytes]) -> tuple[Table, Any]:
    import openpyxl

    _zip_check(stream)
    try:
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=False)
        sheet = workbook.worksheets[0]
        cells = sheet.iter_rows(values_only=True)
        header: tuple[object, ...] | None = None
        header_line = 0
        for header_line, candidate in enumerate(cells, start=1):  # noqa: B007
            if any(v not in (None, "") for v in candidate):
                header = candidate
                break
    except ImportFileError:
        raise
    except Exception as exc:
        raise ImportFileError(f"The XLSX file cannot be read: {exc}.") from exc
    if header is None:
        workbook.close()
        raise ImportFileError("The file is empty.")
    headers = [_cell(h).strip() for h in header]
    total = sheet.max_row or 0
    position = [header_line]

    def rows() -> Iterator[Row]:
        row_no = 0
        line = header_line
        try:
            for values in cells:
                line += 1
                position[0] = line
                texts = [_cell(v) for v in values]
                if not any(t.strip() for t in texts):
                    continue
                row_no += 1
                yield row_no, line, texts
        except Exception as exc:
            raise ImportFileError(
                f"The XLSX file cannot be read after row {line}: {exc}. Nothing was imported."
            ) from exc

    table = Table(
        "xlsx", headers, rows(), _position=(lambda: position[0] / total) if total else None
    )
    return table, workbook


@contextmanager
def table_open(stream: IO[bytes], *, name: str, encoding: str = "") -> Iterator[Table]:
    """Open `stream` (binary, seekable) as a Table; raises ImportFileError with the reason."""
    stream.seek(0)
    magic = stream.read(4)
    stream.seek(0)
    if magic == b"PK\x03\x04" or name.lower().endswith((".xlsx", ".xlsm")):
        if magic != b"PK\x03\x04":
            raise ImportFileError("The XLSX file is damaged or truncated (not a zip archive).")
        table, workbook = _xlsx_table(stream)
        try:
            yield table
        finally:
            workbook.close()
    else:
        table = _csv_table(stream, encoding)
        try:
            yield table
        finally:
            if table._text is not None:
                table._text.detach()
