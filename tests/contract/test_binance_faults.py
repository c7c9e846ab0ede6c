"""Binance's failures, injected by the stand-in, through our adapter and the real ccxt client: a timeout
after the venue accepted an order ends in exactly one order; a 429 is waited out and never turns into a
418; -1021 resyncs the clock; a bad signature is an authentication error naming the venue, no secret in it."""

from __future__ import annotations

import traceback
from decimal import Decimal

import pytest

from errors import ClockSkewError, RateLimitError, UnknownOrderStatusError, VenueAuthenticationError
from models import OrderIntent, OrderSide, OrderStatus, OrderType
from order_ids import entry_order_id, stop_order_id
from tests.standin.fixtures import TEST_KEYS

BTC = "BTC/USDT:USDT"
TRADE = "BTC1747699200L"
KEY, SECRET = next(iter(TEST_KEYS.items()))


def entry(qty: str = "0.01") -> OrderIntent:
    return OrderIntent(client_order_id=entry_order_id(TRADE), symbol=BTC, side=OrderSide.BUY, qty=Decimal(qty),
                       order_type=OrderType.MARKET)


def test_submit_when_the_answer_times_out_after_the_venue_accepted_then_found_and_exactly_one_order(standin, make_adapter):
    venue = make_adapter(timeout_s=1.0)
    standin.timeout_after("/fapi/v1/order", "POST")

    order = venue.submit(entry())

    assert (order.status, order.filled_qty, order.client_order_id) == (OrderStatus.FILLED, Decimal("0.01"), f"{TRADE}-en")
    assert standin.count("/fapi/v1/order", "POST") == 1  # looked up, not sent again
    assert [p.qty for p in venue.positions()] == [Decimal("0.01")]


def test_submit_when_the_venue_answers_503_unknown_after_placing_it_then_found_not_resent(standin, venue):
    standin.unknown_503("/fapi/v1/algoOrder", "POST", applied=True)
    venue.submit(entry())
    stop = OrderIntent(client_order_id=stop_order_id(TRADE), symbol=BTC, side=OrderSide.SELL, qty=Decimal("0.01"),
                       order_type=OrderType.STOP_MARKET, stop_price=Decimal("50000.0"), reduce_only=True)

    placed = venue.submit(stop)

    assert placed.client_order_id == f"{TRADE}-sl0" and placed.status is OrderStatus.NEW
    assert standin.count("/fapi/v1/algoOrder", "POST") == 1 and len(standin.account.open_algos()) == 1


def test_submit_when_the_answer_times_out_before_the_venue_saw_it_then_unknown_and_nothing_placed(standin, make_adapter):
    venue = make_adapter(timeout_s=1.0)
    standin.timeout_before("/fapi/v1/order", "POST")

    with pytest.raises(UnknownOrderStatusError):
        venue.submit(entry())

    assert venue.positions() == [] and venue.fetch_order(BTC, f"{TRADE}-en") is None  # safe to send again


def test_submit_when_sent_again_while_the_first_rests_then_4116_answered_with_the_order_it_holds(standin, venue):
    limit = OrderIntent(client_order_id="BTC1lim-en", symbol=BTC, side=OrderSide.BUY, qty=Decimal("0.01"),
                        order_type=OrderType.LIMIT, price=Decimal("90000"))
    first = venue.submit(limit)

    again = venue.submit(limit)

    assert again.exchange_order_id == first.exchange_order_id and len(standin.account.open_orders()) == 1


def test_submit_when_rate_limited_with_retry_after_then_waits_and_succeeds_and_never_banned(standin, venue):
    standin.rate_limit("/fapi/v1/order", "POST", retry_after_s=1, ban_s=60)

    order = venue.submit(entry())

    assert order.status is OrderStatus.FILLED
    assert standin.count("/fapi/v1/order", "POST") == 2  # the refused one, then one after Retry-After
    assert venue.account().wallet_balance > 0  # not banned: a 418 would refuse this too


def test_submit_when_banned_with_418_then_rate_limit_error_and_nothing_sent_until_it_ends(standin, venue):
    standin.fail("/fapi/v1/order", status=418, body={"code": -1003, "msg": "Way too many requests; IP banned."})

    with pytest.raises(RateLimitError, match="418"):
        venue.submit(entry())
    sent = len(standin.requests)
    with pytest.raises(RateLimitError, match="nothing is sent"):
        venue.account()

    assert len(standin.requests) == sent


def test_submit_when_the_venue_says_minus_1021_then_clock_resynced_and_sent_once_more(standin, venue):
    times_before = standin.count("/fapi/v1/time")
    standin.clock_skew("/fapi/v1/order", "POST")

    order = venue.submit(entry())

    assert order.status is OrderStatus.FILLED
    assert standin.count("/fapi/v1/time") == times_before + 1
    assert standin.count("/fapi/v1/order", "POST") == 2


def test_entry_when_our_clock_is_further_off_than_recv_window_then_refused_but_a_reduce_only_close_goes(standin,
                                                                                                        make_adapter):
    venue = make_adapter()
    venue.submit(entry())
    standin.skew_ms = 20_000  # the venue's clock 20 s ahead of ours: beyond the 5 s recvWindow
    venue.sync_clock()

    with pytest.raises(ClockSkewError, match=r"\+(19|20)\d{3} ms off.*recvWindow allows 5000 ms"):
        venue.submit(OrderIntent(client_order_id="BTC2-en", symbol=BTC, side=OrderSide.BUY, qty=Decimal("0.01"),
                                 order_type=OrderType.MARKET))
    close = venue.submit(OrderIntent(client_order_id=f"{TRADE}-x100", symbol=BTC, side=OrderSide.SELL,
                                     qty=Decimal("0.01"), order_type=OrderType.MARKET, reduce_only=True))

    assert close.status is OrderStatus.FILLED and venue.positions() == []  # signed with the venue's time


def test_connect_when_the_secret_is_wrong_then_authentication_error_naming_the_venue_and_no_secret(standin,
                                                                                                   make_adapter):
    wrong = "wrong-secret-5d1c9e"

    with pytest.raises(VenueAuthenticationError) as refused:
        make_adapter(secret=wrong)

    text = str(refused.value) + "".join(traceback.format_exception(refused.value))
    assert "binance-demo" in str(refused.value) and "signature" in str(refused.value)
    assert "BINANCE_DEMO_API_KEY" in str(refused.value)
    assert wrong not in text and KEY not in text and "signature=" not in text.replace("signature=***", "")
