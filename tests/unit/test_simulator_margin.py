"""Liquidation prices by Binance's published formula, with the numbers worked out by hand."""

from decimal import Decimal as D

import pytest

from simulator.margin import BRACKETS, bracket_for, liquidation_price, liquidation_price_with, maintenance_margin


def test_liquidation_price_when_isolated_btc_long_then_binance_formula():
    # BTC long 0.1 @ 100000, 10x: WB = 10000 / 10 = 1000; tier 1: MMR 0.004, cum 0.
    # LP = (WB + cum - side*qty*entry) / (qty*MMR - side*qty)
    #    = (1000 + 0 - 0.1*100000) / (0.1*0.004 - 0.1) = -9000 / -0.0996 = 90361.445783...
    lp = liquidation_price("BTC/USDT:USDT", +1, D("0.1"), D("100000"), D("1000"))

    assert lp == D("-9000") / D("-0.0996")
    assert lp.quantize(D("0.01")) == D("90361.45")


def test_liquidation_price_when_isolated_btc_short_then_binance_formula():
    # BTC short 0.1 @ 100000, 10x: WB = 1000; MMR 0.004, cum 0.
    # LP = (1000 + 0 + 0.1*100000) / (0.1*0.004 + 0.1) = 11000 / 0.1004 = 109561.752988...
    lp = liquidation_price("BTC/USDT:USDT", -1, D("0.1"), D("100000"), D("1000"))

    assert lp == D("11000") / D("0.1004")
    assert lp.quantize(D("0.01")) == D("109561.75")


def test_liquidation_price_when_notional_in_third_eth_tier_then_that_tiers_mmr_and_cum():
    # ETH tiers: 0 → 0.5 %, 100k → 0.65 %, 250k → 1 %.  cum3 = 100000*0.0015 + 250000*0.0035 = 1025.
    # ETH long 100 @ 3000 (notional 300k), 10x: WB = 30000.
    # LP = (30000 + 1025 - 300000) / (100*0.01 - 100) = -268975 / -99 = 2716.9191...; at LP the notional
    # (271,692) is still in the 250k tier, so the tier is self-consistent.
    lp = liquidation_price("ETH/USDT:USDT", +1, D("100"), D("3000"), D("30000"))

    assert bracket_for("ETH/USDT:USDT", D("300000")).cum == D("1025")
    assert lp == D("-268975") / D("-99")


def test_liquidation_price_when_one_x_long_then_none():
    # WB = notional: the price would have to reach 0.
    assert liquidation_price("BTC/USDT:USDT", +1, D("0.1"), D("100000"), D("10000")) is None


def test_liquidation_price_when_cross_then_other_positions_count():
    alone = liquidation_price_with(+1, D("0.1"), D("100000"), D("1000"), D("0.004"), D("0"))
    with_losing_other = liquidation_price_with(+1, D("0.1"), D("100000"), D("1000"), D("0.004"), D("0"),
                                               other_maintenance=D("10"), other_unrealized=D("-100"))

    # Another position's loss and maintenance margin eat the shared wallet: liquidation comes sooner.
    assert with_losing_other > alone
    assert with_losing_other == (D("1000") - D("10") - D("100") - D("10000")) / D("-0.0996")


@pytest.mark.parametrize(
    "notional, mmr, cum",
    [
        ("49999.99", "0.004", "0"),
        ("50000", "0.005", "50"),  # 50000 * (0.005 - 0.004)
        ("250000", "0.01", "1300"),  # 50 + 250000 * (0.01 - 0.005)
    ],
)
def test_bracket_when_btc_notional_at_tier_boundaries_then_binance_cum(notional, mmr, cum):
    bracket = bracket_for("BTC/USDT:USDT", D(notional))

    assert (bracket.mmr, bracket.cum) == (D(mmr), D(cum))


def test_maintenance_margin_when_crossing_a_tier_then_continuous():
    below = maintenance_margin("BTC/USDT:USDT", D("49999.99"))
    at = maintenance_margin("BTC/USDT:USDT", D("50000"))

    assert at - below == D("0.00004")  # 200 - 199.99996: no jump at the boundary
    assert set(BRACKETS) == {"BTC/USDT:USDT", "ETH/USDT:USDT"}
