"""The HTML form of a small table: the same cells as the grid, escaped, numbers right-aligned."""

from __future__ import annotations

from decimal import Decimal
from html.parser import HTMLParser

import pandas as pd

from models import Order, OrderSide, OrderStatus, OrderType
from ui.light_table import html_table
from ui.tables import Table, _layout, orders_table


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[tuple[str, str]]] = []
        self.widths: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "col":
            self.widths.append(attrs["style"])
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = [attrs.get("class") or "", ""]

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append((self._cell[0], self._cell[1]))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data


def _parse(table: Table) -> _Cells:
    parser = _Cells()
    parser.feed(html_table(table))
    return parser


def test_html_table_when_orders_then_the_grids_headers_and_cells_in_order():
    orders = [Order("cid-7", "BTC/USDT:USDT", OrderSide.SELL, OrderType.STOP_MARKET, Decimal("0.021"), OrderStatus.NEW,
                    stop_price=Decimal("93100.5"), reduce_only=True, created_ms=1_700_000_000_000)]
    table = orders_table(orders, {"BTC/USDT:USDT": 1})

    parsed = _parse(table)

    assert [text for _, text in parsed.rows[0]] == list(table.frame.columns)
    assert [text for _, text in parsed.rows[1]] == [str(v) for v in table.frame.iloc[0]]
    assert parsed.widths[0] == f"width: {table.layout['Symbol'].width}px"


def test_html_table_when_number_columns_then_they_alone_are_right_aligned():
    table = Table(pd.DataFrame([{"Symbol": "ETH", "Qty": "1.5"}], dtype="string"), _layout(("Symbol", 90, "k"),
                                                                                          ("Qty", 70, "kn")))

    parsed = _parse(table)

    assert [cls for cls, _ in parsed.rows[1]] == ["", "n"]


def test_html_table_when_a_cell_holds_markup_then_it_is_shown_as_text():
    table = Table(pd.DataFrame([{"Item": "<script>alert(1)</script>", "Value": pd.NA}], dtype="string"))

    html = html_table(table)
    parsed = _parse(table)

    assert "<script>" not in html
    assert parsed.rows[1] == [("", "<script>alert(1)</script>"), ("", "")]
