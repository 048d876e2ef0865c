"""CSV cells that a spreadsheet opens as text: an export never runs a formula someone typed.

Excel, LibreOffice and Google Sheets evaluate a cell that starts with `=`, `+`, `-` or `@` (and
strip a leading tab or carriage return first), so `=HYPERLINK("https://evil.example", "x")` in
a trace id would become a live link, or worse, in whoever opens the export. A leading `'` makes
such a cell text, as OWASP's CSV injection advice says; the full-width forms count too, since
Japanese-locale Excel reads them as the ASCII ones.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def spreadsheet_cell(value: object) -> object:
    """`value` for a CSV cell: None as empty, text that would start a formula prefixed `'`;
    numbers are left alone (a negative number is data, not a formula)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
