"""A write whose reply is lost after Redis ran it: the connection closes between Redis running a
MULTI/EXEC and its reply reaching the bot (an admin's CLIENT KILL, a proxy or load balancer dropping idle
connections, a Sentinel failover, Redis stopped just after the write). The client used to retry a closed
connection once on a new one (state.connect), on the assumption that a closed connection ran nothing: the
whole transaction was then sent a second time, and every write in it that is not idempotent landed twice.
Now a round trip sent whole is never sent again (state._transaction): the caller gets StateStoreError.

Real Redis throughout; between the store and Redis a real TCP relay on loopback that, once armed, lets the
request through, waits until Redis has answered it (so it ran), and closes both sides instead of passing
the answer on. Nothing of the bot's own code is replaced."""

from __future__ import annotations

import socket
import threading
from decimal import Decimal
from urllib.parse import urlparse

import pytest

from models import Candle
from state import StateStore, connect

T0 = 1_746_000_000_000
ETH = "ETH/USDT:USDT"


class ReplyLosingRelay:
    """Loopback relay to Redis. `arm()`: the next request holding an EXEC reaches Redis, and the
    connection is closed once Redis has written its reply, which never reaches the client."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.armed = threading.Event()
        self.dropped = threading.Event()
        self._closing = False
        self.marker = b"EXEC\r\n"
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, marker: bytes = b"EXEC\r\n") -> None:
        """The next request holding `marker` (a transaction's EXEC, or a command's name) loses its reply."""
        self.marker = marker
        self.dropped.clear()
        self.armed.set()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            lost = threading.Event()  # set by the client side: drop the next reply from Redis
            threading.Thread(target=self._upstream, args=(client, server, lost), daemon=True).start()
            threading.Thread(target=self._downstream, args=(server, client, lost), daemon=True).start()

    def _upstream(self, client: socket.socket, server: socket.socket, lost: threading.Event) -> None:
        try:
            while chunk := client.recv(65536):
                if self.armed.is_set() and self.marker in chunk:
                    self.armed.clear()
                    lost.set()
                server.sendall(chunk)
        except OSError:
            pass

    def _downstream(self, server: socket.socket, client: socket.socket, lost: threading.Event) -> None:
        try:
            while chunk := server.recv(65536):
                if lost.is_set():  # Redis answered, so it ran the transaction: the answer is lost
                    for s in (client, server):
                        s.shutdown(socket.SHUT_RDWR)
                        s.close()
                    self.dropped.set()
                    return
                client.sendall(chunk)
        except OSError:
            pass

    def close(self) -> None:
        self._closing = True
        self.listener.close()


@pytest.fixture
def relay(redis_url: str):
    u = urlparse(redis_url)
    r = ReplyLosingRelay(u.hostname or "127.0.0.1", u.port or 6379)
    yield r
    r.close()


@pytest.fixture
def relayed(relay: ReplyLosingRelay, redis_url: str, store: StateStore) -> StateStore:
    """The same bot's store, its connection going through the relay."""
    u = urlparse(redis_url)
    return StateStore(connect(redis_url.replace(f"{u.hostname}:{u.port}", f"127.0.0.1:{relay.port}")), store.bot_id)


def wait_for_drop(relay: ReplyLosingRelay) -> None:
    """The relay marks the drop just after closing both sides: the client may see the close first."""
    assert relay.dropped.wait(5), "the relay never dropped a reply"


def candle(minute: int) -> Candle:
    price = Decimal("3000.5") + minute
    return Candle(ETH, "1m", T0 + minute * 60_000, price, price + 1, price - 1, price, Decimal("12.5"))


def test_push_candles_when_the_reply_of_its_transaction_is_lost_then_each_candle_is_stored_once(
        relay: ReplyLosingRelay, relayed: StateStore, store: StateStore):
    """Defect (medium, found by s6-attack2): a tick's writes sent again after a lost reply. The candles'
    script ran, its reply was lost with the connection, and the retry on a new connection ran it again: the
    chart's candle list holds the tick's candle twice (and so would the audit, equity and gap streams and
    the gap counter of the same transaction)."""
    first = [candle(m) for m in range(3)]
    with relayed.batch():
        relayed.push_candles(first)
    relay.arm()
    newest = candle(3)
    try:
        with relayed.batch():
            relayed.push_candles([newest])
    except Exception:
        pass  # an error is acceptable: the bot then knows the write may not be in; a second copy is not
    wait_for_drop(relay)  # the fault happened: Redis ran it and the answer was lost
    assert store.read_candles(ETH) == first + [newest]


def test_record_gap_when_the_reply_of_its_transaction_is_lost_then_the_gap_is_counted_once(
        relay: ReplyLosingRelay, relayed: StateStore, store: StateStore):
    """Defect (medium, found by s6-attack2): the same retry counts one data gap twice in the state hash
    (`data_gaps`, shown by the dashboard and `main.py status`) and lists it twice in the gaps stream."""
    relay.arm()
    gap = {"symbol": ETH, "from_ms": T0, "to_ms": T0 + 180_000, "missing": 2, "source": "binance"}
    try:
        relayed.record_gap(gap)
    except Exception:
        pass
    wait_for_drop(relay)
    assert store.read_state().get("data_gaps") == "1"
    assert len(store.read_gaps()) == 1


def test_market_order_when_the_reply_of_its_venue_save_is_lost_then_one_position_and_one_fill(
        relay: ReplyLosingRelay, relayed: StateStore, store: StateStore):
    """A lost reply on the way to a market order never places it twice: the round trip whose reply was lost
    (the venue's lock, or its versioned save) is not sent again, so the order is either placed once or
    refused with StateStoreError and not placed (probe: the position and the fills seen by another process)."""
    from clock import SimulatedClock
    from exchange_client import SimVenueClient
    from models import OrderIntent, OrderSide, OrderType
    from simulator import SimConfig
    from simulator.symbols import BUILTIN_RULES

    config = SimConfig(funding_rate=Decimal("0"))
    venue = SimVenueClient(config, SimulatedClock(T0), BUILTIN_RULES, store=relayed.venue_store("sim"))
    p = Decimal("3000")
    venue.on_candle(Candle(ETH, "1m", T0, p, p, p, p, Decimal("100")))
    relay.arm()
    outcome = "placed"
    try:
        venue.submit(OrderIntent("ETH1-en", ETH, OrderSide.BUY, Decimal("0.5"), OrderType.MARKET))
    except Exception as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    wait_for_drop(relay)
    other = SimVenueClient(config, SimulatedClock(T0), BUILTIN_RULES, store=store.venue_store("sim"))
    positions = other.positions()
    placed = [p.qty for p in positions]
    assert placed in ([Decimal("0.5")], []), (outcome, positions)
    assert len(other.pending_fills()) == len(placed), (outcome, other.pending_fills())
    assert (outcome == "placed") == bool(placed) or outcome.startswith("StateStoreError"), outcome


def test_audit_when_the_reply_of_a_lone_xadd_is_lost_then_the_line_is_written_once(
        relay: ReplyLosingRelay, relayed: StateStore, store: StateStore):
    """The same fault on a write sent alone, outside a batch (an audit line from the command thread or the
    supervisor): redis-py's own retry on a closed connection sent the XADD again, two lines for one."""
    from models import AuditEvent

    relay.arm(b"XADD")
    try:
        relayed.audit(AuditEvent("state", T0, "one line", {}))
    except Exception:
        pass  # an error is acceptable: the caller then knows the line may not be in; a second copy is not
    wait_for_drop(relay)
    assert [e.message for e in store.read_audit(10)] == ["one line"]


@pytest.mark.parametrize("call", ["read_state", "write_state", "audit"])
def test_call_when_redis_closed_the_pooled_connection_while_idle_then_it_is_answered(redis_url: str, store: StateStore,
                                                                                     call: str):
    """What the retry on a closed connection was for: a pooled connection Redis closed while it was idle
    (a restart, a CLIENT KILL, an idle timeout) is replaced before the next call is sent, so none is needed."""
    import redis
    from models import AuditEvent

    store.write_state(mode="paper")
    admin = redis.Redis.from_url(redis_url)
    try:
        assert admin.client_kill_filter(_type="normal", skipme=True) >= 1  # the store's pooled connection
    finally:
        admin.close()
    if call == "read_state":
        assert store.read_state() == {"mode": "paper"}
    elif call == "write_state":
        store.write_state(mode="live")
        assert store.read_state() == {"mode": "live"}
    else:
        store.audit(AuditEvent("state", T0, "after the kill", {}))
        assert [e.message for e in store.read_audit(5)] == ["after the kill"]
