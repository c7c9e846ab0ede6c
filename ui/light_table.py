"""A small table (a few positions, the open orders, the risk report) as plain HTML.

`st.dataframe` is a canvas grid whose browser module with its Arrow decoder is 1.3 MB of JavaScript: on a
tab with only small tables (the Account tab, the page's first view) loading and evaluating it was most of
the wait before the tab appeared (React holds the whole tab back until every element's module is
loaded). An HTML table keeps what matters in a table of a dozen rows: the same columns and cells, the
first column pinned while the rest scroll sideways, numbers right-aligned, the same widths.
"""

from __future__ import annotations

from html import escape

import pandas as pd

from ui.tables import Table

# the page's background in Streamlit 1.67's dark theme (`.streamlit/config.toml`, base "dark"), read from
# the page: the pinned column must be opaque for the others to scroll under it
_BACKGROUND = "rgb(23, 22, 20)"
_LINE = "rgba(250, 250, 250, 0.12)"
STYLE = (
    "<style>"
    ".tb-table { overflow-x: auto; max-width: 100%; border: 1px solid " + _LINE + "; border-radius: 0.5rem; }"
    ".tb-table table { border-collapse: separate; border-spacing: 0; table-layout: fixed; width: max-content;"
    " min-width: 100%; font-size: 0.875rem; margin: 0; }"
    ".tb-table th, .tb-table td { padding: 0.35rem 0.5rem; border-bottom: 1px solid " + _LINE + ";"
    " white-space: nowrap; overflow: hidden; text-overflow: ellipsis; text-align: left; }"
    ".tb-table tr:last-child td { border-bottom: none; }"
    ".tb-table th { font-weight: 400; opacity: 0.7; }"
    ".tb-table .n { text-align: right; font-variant-numeric: tabular-nums; }"
    ".tb-table th:first-child, .tb-table td:first-child { position: sticky; left: 0; background: " + _BACKGROUND + ";"
    " border-right: 1px solid " + _LINE + "; }"
    "</style>"
)
DEFAULT_WIDTH = 150


def html_table(table: Table) -> str:
    """The table as one `<div class="tb-table">`, every header and cell escaped."""
    columns = [str(c) for c in table.frame.columns]
    cols, heads, numeric = [], [], []
    for name in columns:
        layout = table.layout.get(name)
        cols.append(f'<col style="width: {layout.width if layout else DEFAULT_WIDTH}px">')
        number = bool(layout and layout.number)
        numeric.append(number)
        heads.append(f'<th{" class=n" if number else ""} title="{escape(name)}">{escape(name)}</th>')
    rows = []
    for values in table.frame.itertuples(index=False, name=None):
        cells = "".join(f'<td{" class=n" if number else ""}>{escape(_text(v))}</td>'
                        for v, number in zip(values, numeric))
        rows.append(f"<tr>{cells}</tr>")
    return (f'<div class="tb-table"><table><colgroup>{"".join(cols)}</colgroup><thead><tr>{"".join(heads)}</tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table></div>')


def _text(value: object) -> str:
    return "" if pd.isna(value) else str(value)
