"""CSV cells a spreadsheet shows as the text they are (CSV injection, OWASP's "CSV Injection" page).

Excel, LibreOffice and Google Sheets run a cell that starts with `=`, `+`, `-` or `@` as a formula (a tab or a
carriage return first is trimmed, and the rest runs): `=cmd|' /C calc'!A0` in an external id is a command. Every text
cell that starts with one of them gets a leading `'`, which spreadsheets read as "text" and hide.

Only text is escaped. Numbers the writer itself puts in a cell (ids, counts, confidences) stay numbers, negative or
not; a *text* that looks like a number, such as a class named `-1` or an external id `+1`, is escaped like any other
(`'-1`), since its first character is all the spreadsheet looks at. A program that reads the CSV back drops one
leading `'` before `= + - @ \\t \\r` to get the text as it was; JSONL exports are never escaped.
"""

from collections.abc import Iterable
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def csv_cells(row: Iterable[Any]) -> list[Any]:
    """A row ready for `csv.writer`: every text cell through `csv_text`, everything else as it is."""
    return [csv_text(value) if isinstance(value, str) else value for value in row]
