"""The bot's state in Redis: the only module that knows key names.

Everything lives under one namespace per bot, `tb:{bot_id}:…`, so several bots can share one Redis:

    state              hash    mode, venue, trading_state, pid, started_at_ms, heartbeat_ms, progress_ms, version…
    halt               string  durable halt flag (JSON: reason, by, ts_ms); checked before every order
    commands           stream  commands in; one consumer group per handler ("bot", "supervisor"); capped
    command_results    stream  every result of every command, in order; capped
    result:{id}        string  a command's latest result (JSON), for callers waiting on it; expires (RESULT_TTL_S)
    claim:{id}         string  the handler that claimed a command: at-most-once execution (SET NX); expires
                               (CLAIM_TTL_S, see there for why that is long enough)
    account            hash    balance, unrealised P&L, margin used, available
    positions, orders  hash    symbol / client order id -> JSON record
    intents            hash    client order id -> JSON intent, written *before* the order is sent; final ones
                               are deleted, at most INTENTS_KEPT are kept (see save_intent)
    trades, signals, audit   streams, capped with MAXLEN ~; each trade row names its book (mode, venue)
    equity:{book}      stream  one equity curve per book (models.Book: `ghost`, `paper:sim`…), never spliced
    gaps               stream  every gap in the market data the bot saw (symbol, from_ms, to_ms, missing,
                               source), capped at GAPS_KEPT; the state hash counts them (`data_gaps`)
    risk, metrics      hash    the live risk report / the latest metrics (JSON values)
    candles:{symbol}   list    the most recent candles (JSON), for charts: CANDLES_KEPT, and up to CANDLES_SLACK older
    buys:{symbol}      zset    entry times (ms) in the last days, for tiered sizing
    ghost              hash    ghost trades in flight, by id
    ghost_parked       hash    ghost trades opened on another feed, kept aside until the bot runs on it again
    exits              hash    exit-rule memory per symbol (peak price, breakeven moved…)
    venue:{name}       hash    a simulated venue's snapshot: {version, head, market} (or one whole `data`,
                               as written before the parts, still read)
    venue:{name}:orders hash   its orders: client order id -> JSON record, only the changed ones written
    venue:{name}:closed list   its closed orders' ids, oldest first (the newest `recent_orders_kept`)
    epoch              string  the run marker (JSON: epoch, since_ms), see below
    trade_keys         zset    trade keys already written to `trades` (a retried write is not a second row)

Redis failures come out as `StateStoreError`, never as a raw redis-py exception. The store never
re-sends a round trip that may have run: one that timed out (it may still run once a frozen Redis wakes
up) or whose connection closed after it was sent whole (Redis may have run it and the reply been lost),
so a blind retry of an XADD would write it twice; only one that could not be sent is tried once more on a
new connection. The callers' loops retry, and the writes that must happen once are idempotent
(`append_trade`).

One tick's writes are one round trip (`StateStore.batch`, opened by the engine around a tick): the
records (audit, signals, the scorer's and the executor's memory, candles) are queued and sent as one
MULTI/EXEC when the batch ends, and earlier whenever something must be durable or read first: before
an order intent (written at once, with the queue ahead of it; or, for an order to a simulated venue kept
in this Redis, queued and sent in the one MULTI/EXEC that saves the order), before any change of such a
venue (its lock and its saves send the queue first), with every read (the queue
goes in the same round trip, ahead of it), with a trade row, and before any other thread's call, so
the order of writes is the order in which they were made. A crash loses only queued records, none of
which anything outside this process has acted on yet: what the venue was told, and each order's
intent, was durable before it was told.

State lost (FLUSHALL, a restart without its data) is told by the run marker `epoch`: the first process
of a bot writes it, every other adopts it, and a process that has one (`StateStore.epoch`) reads any
Redis without it, or with another one, as HALTED until the state guard (state_guard.py) has written the
durable halt. A simulated venue whose snapshot version goes back is the same loss, noticed by its store.
"""

from __future__ import annotations

import enum
import functools
import json
import logging
import threading
import time
import uuid
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.client import EMPTY_RESPONSE
from redis.retry import Retry

from redis_connections import connection_class_for
from stores import INTENTS_KEPT, Memory, intents_due_for_pruning, intents_forgotten_event, intents_to_forget
from errors import ConsumerGroupMissingError, StateLostError, StateStoreError, TradingHaltedError
from models import (
    Account,
    AuditEvent,
    Book,
    Candle,
    Command,
    CommandResult,
    HaltCause,
    HaltFlag,
    as_field,
    Order,
    OrderIntent,
    Position,
    Trade,
    TradingState,
    from_json,
    from_record,
    to_json,
    to_record,
)

T = TypeVar("T")

CANDLES_KEPT = 500
# A symbol's candle list is trimmed back to CANDLES_KEPT once it holds this many more: an LTRIM for every symbol
# every tick was a third of the candles' time in Redis (the readers read the newest CANDLES_KEPT only).
CANDLES_SLACK = 100
GAPS_KEPT = 1000
BUY_HISTORY_MS = 7 * 24 * 3600 * 1000

# A command entry reaches a reader again (1) from its group's pending list after the reader restarts,
# minutes later, and (2) when a consumer group is created later with start id "0" and reads the whole
# stream, whose entries (at most stream_maxlen) may be of any age. Readers refuse entries older than
# COMMAND_MAX_AGE_S by their stream id (Redis's clock at XADD), and a claim lives twice as long, so the
# claim of every command a reader would still run is there: at-most-once holds although claims expire.
# The 12 h between the two absorb any difference between Redis's clock and a reader's.
COMMAND_MAX_AGE_S = 12 * 3600
CLAIM_TTL_S = 2 * COMMAND_MAX_AGE_S
REJECTION_CLAIM_TTL_S = 600  # a malformed entry rejected twice changes nothing, so its claim may go soon
# The streams the durable journal (journal/) copies to disk: together, every trade, signal, order, fill,
# denial, command and state change (orders, fills and denials are audit kinds).
JOURNALED_STREAMS = ("trades", "signals", "audit", "command_results")
RESULT_TTL_S = 3600  # senders wait seconds for a result; the history is the command_results stream
# Intents the venue has acknowledged (any status but pending/unknown) are only kept until final; beyond
# this many the oldest acknowledged ones go first. Pending ones are never dropped: reconcile looks them up.


def _wrap_errors(fn: Callable[..., T], *, queued_first: bool = True) -> Callable[..., T]:
    """Redis's errors as StateStoreError. On a StateStore, the queued writes of an open batch (see
    `StateStore.batch`) go first, so a call that is not itself queued comes after every write made before it."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            if queued_first and args and getattr(args[0], "_queue", None):
                args[0].flush()
            return fn(*args, **kwargs)
        except redis.exceptions.ConnectionError as exc:
            raise StateStoreError(f"cannot reach Redis: {exc}") from None
        except redis.exceptions.TimeoutError as exc:
            raise StateStoreError(f"Redis timed out: {exc}") from None
        except redis.exceptions.ResponseError as exc:
            if str(exc).startswith("NOGROUP"):
                raise ConsumerGroupMissingError(f"Redis lost a consumer group: {exc}") from None
            raise StateStoreError(f"Redis error: {exc}") from None
        except redis.exceptions.RedisError as exc:
            raise StateStoreError(f"Redis error: {exc}") from None

    return wrapper


def _queueable(fn: Callable[..., T]) -> Callable[..., T]:
    """A write that may wait in the open batch's queue (it sends nothing ahead of itself)."""
    return _wrap_errors(fn, queued_first=False)


def connect(url: str, *, timeout_s: float = 2.0) -> redis.Redis:
    """A client with decoded strings; raises StateStoreError when Redis does not answer PING."""
    client = redis.Redis.from_url(
        url,
        decode_responses=True,
        # anyone can XADD anything: bytes that are not UTF-8 must not make a reply undecodable (that
        # wedged the command readers on a poison entry); they arrive as U+FFFD and are rejected
        encoding_errors="replace",
        connection_class=connection_class_for(url),  # which honours encoding_errors when writing, too
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        health_check_interval=30,
        # Nothing is re-sent by the client (see the module docstring): a timed-out command may still run
        # once Redis wakes up, and one whose connection closed after it was sent may have run (its reply
        # lost: an audit line was written twice). A connection Redis closed while it sat idle in the pool
        # (a restart) is replaced before the next call anyway (the pool checks it), so no retry is needed.
        retry=Retry(NoBackoff(), 0),
    )
    try:
        client.ping()
    except redis.exceptions.AuthenticationError as exc:
        if "@" in url:
            raise StateStoreError(f"Redis at {redact_url(url)} refused the user or password "
                                  f"(TB_REDIS_PASSWORD, TB_REDIS_USERNAME): {exc}") from None
        raise StateStoreError(f"Redis at {redact_url(url)} needs a password: set TB_REDIS_PASSWORD "
                              f"(and TB_REDIS_USERNAME for an ACL user)") from None
    except redis.exceptions.RedisError as exc:
        raise StateStoreError(f"cannot reach Redis at {redact_url(url)}: {exc}") from None
    return client


def redact_url(url: str) -> str:
    """A Redis URL fit for logs and screens: any user:password part is hidden."""
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


class Outage:
    """A loop's view of Redis trouble: capped doubling waits (0.1 s, 0.2 s … 2 s) while it does not answer,
    one log line when it starts and one when it ends. redis-py reconnects by itself on the next call."""

    def __init__(self, name: str, *, first_s: float = 0.1, cap_s: float = 2.0, log: Any = None):
        self.name = name
        self.first_s = first_s
        self.cap_s = cap_s
        self._log = log or logging.getLogger(__name__)
        self._next_s = first_s
        self.since: float | None = None  # time.monotonic() of the first failure

    def failed(self, exc: BaseException) -> float:
        """The wait before the next try."""
        if self.since is None:
            self.since = time.monotonic()
            self._log.warning("%s: Redis trouble (%s); retrying with backoff up to %gs", self.name, exc, self.cap_s)
        wait, self._next_s = self._next_s, min(self._next_s * 2, self.cap_s)
        return wait

    def recovered(self) -> float | None:
        """Seconds the outage lasted, once, when a call succeeds again after failures; else None."""
        self._next_s = self.first_s
        if self.since is None:
            return None
        lasted, self.since = time.monotonic() - self.since, None
        self._log.warning("%s: Redis answers again after %.1fs", self.name, lasted)
        return lasted


_FORGOTTEN = None  # a field's value in _Queue.hashes: deleted


class _Queue:
    """One write batch's writes, folded into few commands: they are sent as one MULTI/EXEC, which runs
    whole or not at all, so only each key's own order matters. A memory hash keeps each field's last
    write (a value or a deletion: one HSET and one HDEL per hash), a stream its entries in order (one
    script call per stream), every other write (`commands`) is sent as it came. The keys of the three
    never overlap (the memory hashes and the record streams are written nowhere else)."""

    def __init__(self) -> None:
        self.commands: list[Callable[[Any], Any]] = []
        self.hashes: dict[str, dict[str, str | None]] = {}
        self.streams: dict[str, tuple[int, list[Mapping[str, str]]]] = {}

    def __bool__(self) -> bool:
        return bool(self.commands or self.hashes or self.streams)

    def hset(self, key: str, item_id: str, raw: str | None) -> None:
        self.hashes.setdefault(key, {})[item_id] = raw

    def xadd(self, key: str, maxlen: int, fields: Mapping[str, str]) -> None:
        self.streams.setdefault(key, (maxlen, []))[1].append(fields)

    def into(self, pipe: Any) -> None:
        for command in self.commands:
            command(pipe)
        for key, fields in self.hashes.items():
            kept = {k: v for k, v in fields.items() if v is not _FORGOTTEN}
            if kept:
                pipe.hset(key, mapping=kept)
            gone = [k for k, v in fields.items() if v is _FORGOTTEN]
            if gone:
                pipe.hdel(key, *gone)
        for key, (maxlen, entries) in self.streams.items():
            if len(entries) == 1:
                pipe.xadd(key, dict(entries[0]), maxlen=maxlen, approximate=True)
                continue
            # one script call, each entry its field count and its fields (hiredis packs the arguments in C;
            # one JSON argument decoded by the script cost Redis twice as long)
            args: list[Any] = []
            for entry in entries:
                args.append(len(entry) * 2)
                for item in entry.items():
                    args += item
            pipe.eval(_XADD_MANY_SCRIPT, 1, key, maxlen, *args)

    def clear(self) -> None:
        self.commands, self.hashes, self.streams = [], {}, {}


def _transaction(client: Any, stack: Sequence[tuple[tuple[Any, ...], dict[str, Any]]]) -> list[Any]:
    """A pipeline's commands (`Pipeline.command_stack`) in one MULTI/EXEC, their replies: what
    `Pipeline.execute()` does (one try more on a new connection when it could not be sent, the first error
    reply raised, the replies through the client's callbacks), without its per-call machinery (its
    observability hooks, its field-set preparation, a parse per reply through the client): a third of the CPU
    of every round trip of the bot's, ~10 of them in a tick with two orders."""
    # what redis-py answers itself (an MGET of no keys) is not sent: Redis would refuse it while queueing,
    # and EXECABORT throws away every write queued with it
    sent = [(args, options) for args, options in stack if EMPTY_RESPONSE not in options]
    if not sent:
        return [options[EMPTY_RESPONSE] for _, options in stack]
    pool = client.connection_pool
    conn = pool.get_connection()
    try:
        try:
            replies = _exchange(conn, sent)
        except _NotSent:
            # nothing of it ran (its EXEC never reached Redis whole): once more on a new connection
            conn.disconnect()
            replies = _exchange(conn, sent)
        except redis.exceptions.ConnectionError:
            # Sent whole, then the connection closed before the reply: Redis may have run it (a CLIENT
            # KILL, a proxy or a failover after EXEC). Sent again it ran twice (a candle twice in its list,
            # one gap counted as two), so it is not: the caller sees StateStoreError and its loop decides.
            conn.disconnect()
            raise
    finally:
        pool.release(conn)
    callbacks = client.response_callbacks
    out = []
    answered = iter(replies)
    for args, options in stack:
        if EMPTY_RESPONSE in options:
            out.append(options[EMPTY_RESPONSE])
            continue
        reply = next(answered)
        callback = callbacks.get(args[0])
        if callback is not None:
            options = {k: v for k, v in options.items() if k != "keys"}
            reply = callback(reply, **options)
        out.append(reply)
    return out


# Commands that only read: one of them alone, with no write queued, goes without MULTI (StateStore._run).
_READS = frozenset({"GET", "MGET", "HGET", "HGETALL", "HMGET", "HLEN", "LRANGE", "LLEN", "LINDEX", "XRANGE",
                    "XREVRANGE", "XLEN", "ZRANGE", "ZRANGEBYSCORE", "ZSCORE", "ZCARD", "SMEMBERS", "SCARD",
                    "SISMEMBER", "EXISTS", "TTL", "PTTL", "TYPE"})


class _NotSent(redis.exceptions.ConnectionError):
    """The round trip could not be sent whole: Redis ran none of it."""


def _exchange(conn: Any, stack: Sequence[tuple[tuple[Any, ...], dict[str, Any]]]) -> list[Any]:
    packed = conn.pack_commands([("MULTI",), *(args for args, _ in stack), ("EXEC",)])
    try:
        conn.send_packed_command(packed)
    except redis.exceptions.ConnectionError as exc:
        raise _NotSent(str(exc)) from exc
    errors: list[tuple[int, redis.exceptions.ResponseError]] = []
    for n in range(len(stack) + 1):  # MULTI's OK, then a QUEUED (or a refusal: EXEC aborts) per command
        try:
            conn.read_response()
        except redis.exceptions.ResponseError as exc:
            errors.append((n, exc))
    try:
        replies = conn.read_response()
    except redis.exceptions.ExecAbortError:
        if errors:
            raise _annotated(errors[0][1], errors[0][0], stack) from None
        raise
    if replies is None or len(replies) != len(stack):
        conn.disconnect()
        raise redis.exceptions.ResponseError("Wrong number of response items from pipeline execution")
    for n, reply in enumerate(replies, 1):
        if isinstance(reply, redis.exceptions.ResponseError):
            raise _annotated(reply, n, stack)
    return replies


def _annotated(exc: redis.exceptions.ResponseError, n: int, stack: Sequence[Any]) -> redis.exceptions.ResponseError:
    """The error as redis-py's pipeline words it (its command's number and name)."""
    name = stack[n - 1][0][0] if 0 < n <= len(stack) else "MULTI"
    exc.args = (f"Command # {n} ({name}) of pipeline caused error: {exc.args[0] if exc.args else ''}",) + exc.args[1:]
    return exc


class BotStatus(str, enum.Enum):
    """Whether the bot is alive, judged from its state hash (one rule for the supervisor, CLI and dashboard)."""

    RUNNING = "running"
    UNRESPONSIVE = "unresponsive"  # alive as far as the state hash says, but the heartbeat or its loop is old
    STOPPED = "stopped"  # said so itself (running = "0"), or never beat


def heartbeat_age_s(state: Mapping[str, str], now_ms: int) -> float | None:
    """Seconds since the last heartbeat; None when there never was one. A clock skew gives 0, not < 0."""
    try:
        beat = int(str(state.get("heartbeat_ms")))
    except (TypeError, ValueError):
        return None
    if beat <= 0:
        return None
    return max(0.0, (now_ms - beat) / 1000)


def loop_stalled_s(state: Mapping[str, str], now_ms: int) -> float | None:
    """Seconds the trading loop has been stuck in one step, as of the last heartbeat; None when not reported.

    The heartbeat thread writes `progress_ms`: the last moment the trading loop moved on (a candle
    processed, an iteration finished, or now while it idles between ticks). A loop wedged with a live
    heartbeat thread keeps a fresh heartbeat_ms and an ageing progress_ms."""
    try:
        progress = int(str(state.get("progress_ms")))
    except (TypeError, ValueError):
        return None
    if progress <= 0:
        return None
    return max(0.0, (now_ms - progress) / 1000)


def bot_status(state: Mapping[str, str], now_ms: int, timeout_s: float) -> BotStatus:
    """`running` until the heartbeat, or the trading loop's progress, is *older* than `timeout_s`; then
    `unresponsive`. A bot that does not report progress (older versions) is judged by its heartbeat."""
    if state.get("running") == "0":
        return BotStatus.STOPPED
    age = heartbeat_age_s(state, now_ms)
    if age is None:
        return BotStatus.STOPPED
    if age > timeout_s:
        return BotStatus.UNRESPONSIVE
    stalled = loop_stalled_s(state, now_ms)
    if stalled is not None and stalled > timeout_s:
        return BotStatus.UNRESPONSIVE
    return BotStatus.RUNNING




@_wrap_errors
def bot_ids(client: Any, limit: int = 1000) -> list[str]:
    """Every bot id with a state hash on this Redis (several bots may share one), sorted."""
    ids = set()
    for key in client.scan_iter(match="tb:*:state", count=1000):
        ids.add(key[3:-6])
        if len(ids) >= limit:
            break
    return sorted(ids)


@_wrap_errors
def read_states(client: Any, ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """The state hash of each bot id, in one round trip."""
    wanted = list(ids)
    pipe = client.pipeline(transaction=False)
    for bot in wanted:
        pipe.hgetall(f"tb:{bot}:state")
    return dict(zip(wanted, pipe.execute()))


@dataclass(frozen=True, slots=True)
class StreamEntry:
    entry_id: str
    fields: dict[str, str]

    @property
    def ts_ms(self) -> int:
        return int(self.entry_id.split("-", 1)[0])


# Where each stores.Memory lives (the hash names are those of the first release: restarts find them).
_MEMORY_KEYS = {
    Memory.OPEN_TRADES: "exits",
    Memory.GHOST_TRADES: "ghost",
    Memory.GHOST_LEDGER: "ghost_ledger",
    Memory.GHOST_PARKED: "ghost_parked",
    Memory.CLOSED_TRADES: "closed_trades",
    Memory.PENDING_SIGNALS: "signals_pending",
}


_UNREADABLE_BY = "unknown"


def _utf8(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


def _unreadable(flag: HaltFlag) -> bool:
    """A flag `_parse_halt` could not read (garbled, or a cause this version does not know)."""
    return flag.by == _UNREADABLE_BY and flag.ts_ms == 0 and flag.cause is HaltCause.OPERATOR


def _parse_halt(raw: str) -> HaltFlag:
    try:
        data = json.loads(raw)
        cause = HaltCause(data.get("cause", HaltCause.OPERATOR.value))
        lifts = data.get("lifts_at_ms")
        return HaltFlag(str(data.get("reason", "")), str(data.get("by", "")), int(data.get("ts_ms", 0)), cause,
                        int(lifts) if lifts is not None else None, int(data.get("seq") or 0))
    except (ValueError, TypeError, AttributeError):
        # an unreadable flag is still a halt: never read as ACTIVE, and resumable only by an operator
        return HaltFlag(reason=str(raw)[:200], by=_UNREADABLE_BY, ts_ms=0)


# KEYS: halt, state. ARGV: new flag JSON, its rank, {cause: rank} JSON, the HALTED value.
# The stronger cause's flag stays (a tie: the newer). It lifts by itself (`lifts_at_ms`) only while every halt
# asked for lifts by itself: a halt that waits for a resume, landing under or over a lifting one, takes the
# lifting away — in this one call, so no lift can slip between the two.
_SET_HALT_SCRIPT = """
local new = cjson.decode(ARGV[1])
local current = redis.call('GET', KEYS[1])
local result = new
if current then
  local ok, flag = pcall(cjson.decode, current)
  if ok and type(flag) == 'table' then  -- an unreadable flag is replaced, as a weakest one (rank 0)
    local ranks = cjson.decode(ARGV[3])
    local rank = 0
    if flag['cause'] and ranks[flag['cause']] then rank = ranks[flag['cause']] end
    if rank > tonumber(ARGV[2]) then result = flag end
  end
  if ok and type(flag) == 'table' and type(flag['lifts_at_ms']) == 'number' and type(new['lifts_at_ms']) == 'number' then
    result['lifts_at_ms'] = math.max(flag['lifts_at_ms'], new['lifts_at_ms'])
  else
    result['lifts_at_ms'] = nil
  end
  -- every halt asked for counts, kept flag or not: a resume decided on the flag before it clears nothing
  if ok and type(flag) == 'table' and type(flag['seq']) == 'number' then result['seq'] = flag['seq'] + 1 else result['seq'] = 1 end
else
  result['seq'] = 1
end
local stored = cjson.encode(result)
redis.call('SET', KEYS[1], stored)
redis.call('HSET', KEYS[2], 'trading_state', ARGV[4])
return stored
"""

# KEYS: halt, state. ARGV: market ms now, the state to go to. The flag in force is cleared only if it lifts
# by itself and its time has come; returns it then, else nil.
_LIFT_HALT_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if not current then return false end
local ok, flag = pcall(cjson.decode, current)
if not ok or type(flag) ~= 'table' or type(flag['lifts_at_ms']) ~= 'number' then return false end
if tonumber(flag['lifts_at_ms']) > tonumber(ARGV[1]) then return false end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[2], 'trading_state', ARGV[2])
return current
"""

# KEYS: halt, state. ARGV: the flag's ts_ms and cause as read ('' = none read), the state to go to, '1' when
# the flag read was unreadable (garbled, or a cause this version does not know), the known causes (JSON), the
# flag's seq as read (every set_halt bumps it, even one that keeps a stronger flag).
# Clears only the flag that was read: a halt that landed since (the kill switch while a resume was decided)
# stays; an unreadable flag can still be resumed.
_CLEAR_HALT_IF_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if current then
  local ok, flag = pcall(cjson.decode, current)
  local is_table = ok and type(flag) == 'table'
  if ARGV[4] == '1' then
    -- an unreadable flag was read: it is cleared unless a proper one (as set_halt writes) landed since
    if is_table and type(flag['ts_ms']) == 'number' and flag['cause'] ~= nil
        and cjson.decode(ARGV[5])[tostring(flag['cause'])] ~= nil then
      return 0
    end
  elseif not is_table or tostring(flag['ts_ms'] or 0) ~= ARGV[1] or tostring(flag['cause'] or 'operator') ~= ARGV[2]
      or tostring(flag['seq'] or 0) ~= ARGV[6] then
    return 0
  end
elseif ARGV[1] ~= '' then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[2], 'trading_state', ARGV[3])
return 1
"""


class StateStore:
    """Typed reads and writes of one bot's state."""

    def __init__(
        self,
        client: redis.Redis,
        bot_id: str,
        *,
        stream_maxlen: int = 10_000,
        audit_maxlen: int = 20_000,
    ):
        # redis-py types every reply as bytes | str whatever the client was built with; ours is built by
        # `connect` with decode_responses=True, so replies are str: typed at this one boundary, not per call
        self.client: Any = client
        self.bot_id = bot_id
        self.stream_maxlen = stream_maxlen
        self.audit_maxlen = audit_maxlen
        self.epoch: str | None = None  # the run marker this process works under; None: not a bot process
        self._lost: list[str] = []  # losses noticed (a venue snapshot that went back) not yet declared
        self._venue_stores: weakref.WeakSet[VenueSnapshotStore] = weakref.WeakSet()
        self._intents_after_prune = 0
        self._intents_queued = 0  # intents saved queued since the last one that counted them
        self._reject_script = client.register_script(_REJECT_SCRIPT)
        # the open write batch: its queue (see _Queue), the thread that opened it, how deep
        self._batch_lock = threading.RLock()
        self._queue: Any = None
        self._batch_thread: int | None = None
        self._batch_depth = 0

    @classmethod
    def open(cls, url: str, bot_id: str, **kwargs: Any) -> "StateStore":
        return cls(connect(url), bot_id, **kwargs)

    def key(self, name: str) -> str:
        return f"tb:{self.bot_id}:{name}"

    # ------------------------------------------------------------------------------ write batch

    @contextmanager
    def batch(self) -> Iterator[None]:
        """The writes this thread makes inside it are queued and sent as one round trip, at its end at the
        latest (see the module docstring for what goes earlier). Nested batches are one; while one is
        open, other threads' calls are not queued: each sends the queue first, then itself."""
        me = threading.get_ident()
        with self._batch_lock:
            mine = self._batch_depth == 0 or self._batch_thread == me
            if mine:
                if self._batch_depth == 0:
                    self._queue, self._batch_thread = _Queue(), me
                self._batch_depth += 1
        if not mine:
            yield
            return
        try:
            yield
        finally:
            with self._batch_lock:
                self._batch_depth -= 1
                if self._batch_depth == 0:
                    try:
                        self.flush()
                    finally:
                        self._queue, self._batch_thread = None, None

    @_queueable
    def flush(self) -> None:
        """Send the queued writes now (nothing to do without any). A failure loses them, as it would have
        lost each of them sent alone: a write that may have run is never sent again (module docstring)."""
        if self._queue:
            self._run(lambda pipe: None)

    def _queueing(self) -> "_Queue | None":
        """This thread's open batch queue; None when the write goes now (after any queued by another thread:
        they were made first)."""
        queue = self._queue
        if queue is not None and self._batch_thread == threading.get_ident():
            return queue
        if queue is not None and queue:
            self.flush()
        return None

    def _write(self, command: Callable[[Any], Any], *, several: bool = False) -> Any:
        """`command` on this thread's batch queue if one is open (None back), else on Redis now (its reply);
        `several` commands sent now go as one MULTI/EXEC, as they would in the queue."""
        with self._batch_lock:
            queue = self._queueing()
            if queue is not None:
                queue.commands.append(command)
                return None
        if not several:
            return command(self.client)
        pipe = self.client.pipeline(transaction=True)
        command(pipe)
        return pipe.execute()

    def _run(self, command: Callable[[Any], Any]) -> list[Any]:
        """`command`'s commands now, in one MULTI/EXEC behind the queued writes (one round trip for both:
        a read sees every write made before it); their replies. The queue is emptied even when it fails."""
        with self._batch_lock:
            pipe = self.client.pipeline(transaction=True)
            queue = self._queue
            if queue is not None and queue:
                queue.into(pipe)
                queue.clear()
            queued = len(pipe)
            command(pipe)
            if not len(pipe):
                return []
            if queued == 0 and len(pipe) == 1 and pipe.command_stack[0][0][0] in _READS:
                # one read, nothing queued: no MULTI. A Redis at maxmemory (noeviction) refuses every command
                # queued inside MULTI, reads too: the state, the halt and the page were lost exactly then.
                args, options = pipe.command_stack[0]
                return [self.client.execute_command(*args, **options)]
            return _transaction(self.client, pipe.command_stack)[queued:]

    # ------------------------------------------------------------------------------ bot state

    @_queueable
    def write_state(self, **fields: Any) -> None:
        if fields:
            mapping = {k: _str(v) for k, v in fields.items()}
            self._write(lambda r: r.hset(self.key("state"), mapping=mapping))

    @_queueable
    def read_state(self) -> dict[str, str]:
        return self._run(lambda r: r.hgetall(self.key("state")))[0]

    @_wrap_errors
    def heartbeat(self, ts_ms: int, **extra: Any) -> None:
        self.client.hset(self.key("state"), mapping={"heartbeat_ms": ts_ms, **{k: _str(v) for k, v in extra.items()}})

    @_queueable
    def trading_state(self) -> TradingState:
        """HALTED whenever the durable halt flag is set, whatever the state hash says; and, for a process
        that works under a run marker, whenever the marker is gone or another one (state lost)."""

        venues = list(self._venue_stores) if self._batch_thread == threading.get_ident() else []

        def read(pipe: Any) -> None:
            pipe.exists(self.key("halt"))
            pipe.hget(self.key("state"), "trading_state")
            pipe.get(self.key("epoch"))
            for venue in venues:  # in a tick, the venues' version checks ride along (see VenueSnapshotStore)
                pipe.hget(venue.key, "version")

        halted, stored, marker, *versions = self._run(read)
        for venue, version in zip(venues, versions):
            venue.read_along(int(version or 0))
        if halted or self._lost:
            return TradingState.HALTED
        if self.epoch is not None and _epoch_of(marker) != self.epoch:
            return TradingState.HALTED
        try:
            return TradingState(stored) if stored else TradingState.ACTIVE
        except ValueError:
            return TradingState.HALTED  # a state nobody can read is no permission (fail closed), as in the save

    # ------------------------------------------------------------------------------ run marker

    @_wrap_errors
    def read_epoch_marker(self) -> tuple[str, int] | None:
        """The run marker and since when (ms) it is in force; 0 when a marker says no time."""
        return _marker_of(self.client.get(self.key("epoch")))

    @_wrap_errors
    def claim_epoch(self, epoch: str, since_ms: int, *, replacing: str | None = None) -> str:
        """Write the run marker unless one is there — or, with `replacing`, unless one other than that is
        there; the marker in force (ours or the one found). One script: two processes replacing the same
        marker at once leave one marker, and each hears which."""
        marker = json.dumps({"epoch": epoch, "since_ms": since_ms})
        current = self.client.eval(_CLAIM_EPOCH_SCRIPT, 1, self.key("epoch"), marker, replacing or "")
        return _epoch_of(current) or epoch

    def note_state_lost(self, reason: str) -> None:
        """A loss noticed outside the run marker: HALTED here at once, declared by the state guard."""
        self._lost.append(reason)

    def take_state_lost(self) -> list[str]:
        lost, self._lost = self._lost, []
        return lost

    # ------------------------------------------------------------------------------- halt flag

    @_wrap_errors
    def set_halt(self, reason: str, by: str, ts_ms: int, cause: HaltCause = HaltCause.OPERATOR,
                 lifts_at_ms: int | None = None) -> HaltFlag:
        """Durable: written before anything else is done about a halt; survives restarts.

        Atomic and ranked (one Lua call): a flag already in force for a stronger cause stays; the flag in
        force afterwards is returned; it lifts by itself only if every halt asked for does (HaltFlag).
        Use control.trading_state, which also records the change."""
        # a lone surrogate (from a command's text) would make the script's JSON decoding fail: no halt written
        fields: dict[str, Any] = {"reason": _utf8(reason), "by": _utf8(by), "ts_ms": ts_ms, "cause": cause.value}
        if lifts_at_ms is not None:
            fields["lifts_at_ms"] = lifts_at_ms
        flag = json.dumps(fields)
        stored = self.client.eval(
            _SET_HALT_SCRIPT, 2, self.key("halt"), self.key("state"), flag, cause.rank,
            json.dumps({c.value: c.rank for c in HaltCause}), TradingState.HALTED.value,
        )
        return _parse_halt(stored)

    @_wrap_errors
    def clear_halt(self, state: TradingState = TradingState.ACTIVE, *, read: HaltFlag | None = None,
                   only_if_read: bool = False) -> bool:
        """No halt flag, and `state`. With `only_if_read`, only if the flag in force is still `read` (the
        one a decision was made on; None: no flag then): one Lua call, so a halt that landed in between
        stays. False when nothing was cleared."""
        if only_if_read:
            expected = (str(read.ts_ms), read.cause.value) if read is not None else ("", "")
            unreadable = "1" if read is not None and _unreadable(read) else "0"
            return bool(self.client.eval(_CLEAR_HALT_IF_SCRIPT, 2, self.key("halt"), self.key("state"), *expected,
                                         state.value, unreadable, json.dumps({c.value: 1 for c in HaltCause}),
                                         str(read.seq if read is not None else 0)))
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self.key("halt"))
        pipe.hset(self.key("state"), "trading_state", state.value)
        pipe.execute()
        return True

    @_wrap_errors
    def lift_halt(self, now_ms: int, state: TradingState = TradingState.ACTIVE) -> HaltFlag | None:
        """Clears the flag in force if it lifts by itself by `now_ms` (market time), atomically; the flag
        lifted, or None (nothing changed)."""
        raw = self.client.eval(_LIFT_HALT_SCRIPT, 2, self.key("halt"), self.key("state"), now_ms, state.value)
        return _parse_halt(raw) if raw else None

    @_wrap_errors
    def read_halt(self) -> HaltFlag | None:
        raw = self.client.get(self.key("halt"))
        return _parse_halt(raw) if raw else None

    # ---------------------------------------------------------------------- account & portfolio

    @_queueable
    def write_account(self, account: Account) -> None:
        record = to_record(account)
        record["equity"] = format(account.equity, "f")
        self._write(lambda r: r.hset(self.key("account"), mapping=record))

    @_wrap_errors
    def read_account(self) -> Account | None:
        raw = self.client.hgetall(self.key("account"))
        return from_record(Account, raw) if raw else None

    @_queueable
    def write_positions(self, positions: Iterable[Position]) -> None:
        """Replace the position set atomically: what is not in `positions` is closed."""
        self._replace_hash("positions", {p.symbol: to_json(p) for p in positions})

    def _replace_hash(self, name: str, mapping: Mapping[str, str]) -> None:
        def replace(pipe: Any) -> None:
            pipe.delete(self.key(name))
            if mapping:
                pipe.hset(self.key(name), mapping=mapping)

        self._write(replace, several=True)

    @_wrap_errors
    def read_positions(self) -> list[Position]:
        raw = self.client.hgetall(self.key("positions"))
        return [from_json(Position, v) for _, v in sorted(raw.items())]

    @_queueable
    def write_orders(self, orders: Iterable[Order]) -> None:
        self._replace_hash("orders", {o.client_order_id: to_json(o) for o in orders})

    @_wrap_errors
    def read_orders(self) -> list[Order]:
        raw = self.client.hgetall(self.key("orders"))
        return sorted((from_json(Order, v) for v in raw.values()), key=lambda o: o.created_ms)

    # ---------------------------------------------------------------------------------- intents

    @_queueable
    def save_intent(self, intent: OrderIntent, status: str = "pending", *, queued: bool = False) -> None:
        """Written before the order is sent, so a retry after a crash finds it and never re-sends: durable
        when this returns, with every write queued before it (one round trip).

        `queued`: in this thread's open batch it waits in the queue instead, for a caller whose next round
        trip carries it in one MULTI/EXEC with the order itself (a simulated venue kept in this Redis: its
        every change is saved behind the queue), so it is durable with the order, never after it. Every
        INTENTS_KEPT // 10-th goes at once all the same: its reply counts the intents kept (see below)."""
        record = to_record(intent)
        record["status"] = status
        if queued:
            key, raw = self.key("intents"), json.dumps(record)
            with self._batch_lock:
                queue = self._queueing()
                if queue is not None and self._intents_queued < INTENTS_KEPT // 10:
                    self._intents_queued += 1
                    queue.commands.append(lambda pipe: pipe.hset(key, intent.client_order_id, raw))
                    return
        self._intents_queued = 0

        def save(pipe: Any) -> None:
            pipe.hset(self.key("intents"), intent.client_order_id, json.dumps(record))
            pipe.hlen(self.key("intents"))

        _, count = self._run(save)
        if intents_due_for_pruning(count, self._intents_after_prune):
            self._prune_intents(intent.created_ms)

    def _prune_intents(self, now_ms: int) -> None:
        """Down to 90 % of INTENTS_KEPT, oldest acknowledged intents first; never an unresolved one.

        Intents that never reach a final status (an order the venue cancelled on its own, unseen) would
        otherwise pile up between restarts. An acknowledged one is known to the venue under its client
        id, so forgetting it cannot cause a second order."""
        records = []
        for client_id, raw in self.client.hgetall(self.key("intents")).items():
            try:
                record = json.loads(raw)
            except ValueError:
                record = {}
            records.append((int(record.get("created_ms") or 0), client_id, record.get("status", "pending")))
        dropped, unresolved = intents_to_forget(records)
        if dropped:
            self.client.hdel(self.key("intents"), *dropped)
        self._intents_after_prune = len(records) - len(dropped)
        self.audit(intents_forgotten_event(now_ms, len(dropped), self._intents_after_prune, unresolved))

    @_queueable
    def mark_intent(self, client_order_id: str, status: str) -> None:
        """The venue's answer on an intent still there (one that is gone stays gone)."""
        self._write(lambda r: r.eval(_MARK_INTENT_SCRIPT, 1, self.key("intents"), client_order_id, status))

    @_wrap_errors
    def read_intents(self, status: str | None = None) -> list[tuple[OrderIntent, str]]:
        out = []
        for raw in self.client.hvals(self.key("intents")):
            record = json.loads(raw)
            st = record.pop("status", "pending")
            if status is None or st == status:
                out.append((from_record(OrderIntent, record), st))
        return sorted(out, key=lambda pair: pair[0].created_ms)

    @_queueable
    def delete_intent(self, client_order_id: str) -> None:
        self._write(lambda r: r.hdel(self.key("intents"), client_order_id))

    # ---------------------------------------------------------------------------------- streams

    def _xadd(self, name: str, fields: Mapping[str, str], maxlen: int | None = None) -> str:
        """The new entry's id; "" when it waits in the batch queue."""
        key, cap = self.key(name), maxlen or self.stream_maxlen
        with self._batch_lock:
            queue = self._queueing()
            if queue is not None:
                queue.xadd(key, cap, fields)
                return ""
        return self.client.xadd(key, dict(fields), maxlen=cap, approximate=True)

    def _xrevrange(self, name: str, count: int) -> list[StreamEntry]:
        return [StreamEntry(i, f) for i, f in self.client.xrevrange(self.key(name), count=count)]

    @_wrap_errors
    def read_stream_after(self, name: str, after_id: str, count: int = 1000) -> list[StreamEntry]:
        """Up to `count` entries of a journaled stream (JOURNALED_STREAMS) newer than `after_id` ("0" for
        all), oldest first: what the journal copies next."""
        if name not in JOURNALED_STREAMS:
            raise ValueError(f"{name!r} is not a journaled stream ({', '.join(JOURNALED_STREAMS)})")
        low = "-" if after_id in ("", "0") else f"({after_id}"
        return [StreamEntry(i, f) for i, f in self.client.xrange(self.key(name), min=low, max="+", count=count)]

    @_wrap_errors
    def oldest_stream_id(self, name: str) -> str | None:
        """The oldest entry still in a stream: entries older were trimmed (MAXLEN) or lost."""
        first = self.client.xrange(self.key(name), min="-", max="+", count=1)
        return first[0][0] if first else None

    @_queueable
    def append_trade(self, trade: Trade) -> str | None:
        """Exactly once per trade, however often it is retried: the new entry id, or None when it was
        already written (a write whose reply was lost in an outage, then retried). Never queued: the
        caller lets the trade's other copies go only once its row is in (engine.flush_owed)."""
        fields = [x for kv in to_record(trade).items() for x in kv]
        (entry,) = self._run(lambda r: r.eval(
            _APPEND_TRADE_ONCE, 2, self.key("trades"), self.key("trade_keys"),
            trade_key(trade), self.stream_maxlen, trade.exit_ms, *fields))
        return entry or None

    @_wrap_errors
    def read_trades(self, count: int = 1000, book: Book | None = None) -> list[Trade]:
        """Most recent `count` trades, oldest first; with `book`, that book's only (paged back through the
        stream, which every book of the bot shares, until `count` of them or its start)."""
        if book is None:
            return [from_record(Trade, e.fields) for e in reversed(self._xrevrange("trades", count))]
        found: list[Trade] = []
        high = "+"
        while len(found) < count:
            page = self.client.xrevrange(self.key("trades"), high, "-", count=max(count, 500))
            for entry_id, fields in page:
                trade = from_record(Trade, fields)
                if trade.book == book:
                    found.append(trade)
                    if len(found) == count:
                        break
            if len(page) < max(count, 500):
                break
            high = f"({page[-1][0]}"
        return list(reversed(found))

    @_wrap_errors
    def stream_length(self, name: str) -> int:
        """How many entries a stream holds (trades, signals, equity, audit): a count without reading them."""
        if name not in ("trades", "signals", "equity", "audit"):
            raise ValueError(f"not a record stream: {name!r}")
        return int(self.client.xlen(self.key(name)))

    @_wrap_errors
    def stream_since(self, name: str, last_id: str | None, count: int) -> list[StreamEntry] | None:
        """A record stream's entries newer than `last_id`, oldest first, at most the newest `count`;
        None when `last_id` is no longer in the stream (wiped, or trimmed past it): read it afresh."""
        if name not in ("trades", "signals", "equity", "audit") and not name.startswith("equity:"):
            raise ValueError(f"not a record stream: {name!r}")
        if last_id is None:
            return [StreamEntry(i, f) for i, f in reversed(self.client.xrevrange(self.key(name), count=count))]
        pipe = self.client.pipeline(transaction=False)
        pipe.xrange(self.key(name), min=last_id, max=last_id, count=1)
        pipe.xrevrange(self.key(name), min=f"({last_id}", count=count)
        still, newer = pipe.execute()
        if not still:
            return None
        return [StreamEntry(i, f) for i, f in reversed(newer)]

    @_queueable
    def append_signal(self, record: Mapping[str, Any]) -> str:
        return self._xadd("signals", {k: _str(v) for k, v in record.items()})

    @_wrap_errors
    def read_signals(self, count: int = 1000) -> list[dict[str, str]]:
        return [e.fields | {"id": e.entry_id} for e in reversed(self._xrevrange("signals", count))]

    @_queueable
    def append_equity(self, ts_ms: int, equity: Decimal, wallet: Decimal, unrealized: Decimal,
                      book: Book | None = None) -> str:
        return self._xadd(
            _equity_key(book),
            {"ts_ms": str(ts_ms), "equity": _str(equity), "wallet": _str(wallet), "unrealized": _str(unrealized)},
        )

    @_wrap_errors
    def read_equity(self, count: int = 5000, book: Book | None = None) -> list[dict[str, str]]:
        return [e.fields for e in reversed(self._xrevrange(_equity_key(book), count))]

    @_wrap_errors
    def record_gap(self, gap: Mapping[str, Any]) -> str:
        """One gap in the market data, and the count of them in the state hash, in one round trip."""
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(self.key("gaps"), {k: _str(v) for k, v in gap.items()}, maxlen=GAPS_KEPT, approximate=True)
        pipe.hincrby(self.key("state"), "data_gaps", 1)
        entry_id, _ = _transaction(self.client, pipe.command_stack)  # never sent twice: one gap, counted once
        return entry_id

    @_wrap_errors
    def read_gaps(self, count: int = 50) -> list[dict[str, str]]:
        """The newest `count` gaps, oldest first."""
        return [e.fields for e in reversed(self._xrevrange("gaps", count))]

    @_queueable
    def audit(self, event: AuditEvent) -> str:
        return self._xadd(
            "audit",
            {
                "kind": event.kind,
                "ts_ms": str(event.ts_ms),
                "message": event.message,
                "data": json.dumps(event.data, default=str, separators=(",", ":")),
            },
            maxlen=self.audit_maxlen,
        )

    @_wrap_errors
    def read_audit(self, count: int = 200, kinds: Iterable[str] | None = None) -> list[AuditEvent]:
        wanted = set(kinds) if kinds else None
        out = []
        for e in self._xrevrange("audit", count):
            if wanted and e.fields.get("kind") not in wanted:
                continue
            try:
                data = json.loads(e.fields.get("data") or "{}")
            except ValueError:
                data = {}
            logged_ms = int(e.entry_id.split("-", 1)[0])
            try:
                ts_ms = int(e.fields.get("ts_ms", 0))
            except ValueError:
                # anyone who can XADD can write a line: one with a time that is no number is shown at the time
                # Redis logged it, not raised out of the read (it emptied the whole decision log)
                ts_ms = logged_ms
            out.append(AuditEvent(e.fields.get("kind", ""), ts_ms, e.fields.get("message", ""),
                                  data if isinstance(data, dict) else {"data": data}, logged_ms=logged_ms))
        return list(reversed(out))

    # ------------------------------------------------------------------------------ risk, metrics

    @_queueable
    def write_risk(self, report: Mapping[str, Any]) -> None:
        mapping = {k: _str(v) for k, v in report.items()}
        self._write(lambda r: r.hset(self.key("risk"), mapping=mapping))

    @_wrap_errors
    def read_risk(self) -> dict[str, str]:
        return self.client.hgetall(self.key("risk"))

    @_queueable
    def write_metrics(self, name: str, metrics: Mapping[str, Any]) -> None:
        value = json.dumps(metrics, default=str)
        self._write(lambda r: r.hset(self.key("metrics"), name, value))

    @_wrap_errors
    def read_metrics(self, name: str) -> dict[str, Any] | None:
        raw = self.client.hget(self.key("metrics"), name)
        return json.loads(raw) if raw else None

    # ---------------------------------------------------------------------------------- candles

    @_queueable
    def push_candles(self, candles: Iterable[Candle]) -> None:
        """Each symbol's list gets the candles and keeps the newest CANDLES_KEPT (trimmed to them once it holds
        CANDLES_SLACK more): one command for all the symbols (a tick of 100 symbols was 200 commands, most of
        its cost in redis-py's packing)."""
        by_key: dict[str, list[Candle]] = {}
        for c in candles:
            by_key.setdefault(self.key(f"candles:{c.symbol}"), []).append(c)
        if not by_key:
            return
        counts: list[int] = []
        texts: list[str] = []
        for rows in by_key.values():
            kept = rows[-CANDLES_KEPT:]  # older ones would be trimmed at once
            counts.append(len(kept))
            texts += map(candle_json, kept)
        self._write(lambda r: r.eval(_PUSH_CANDLES_SCRIPT, len(by_key), *by_key, CANDLES_KEPT, CANDLES_SLACK,
                                     *counts, *texts))

    @_wrap_errors
    def read_candles(self, symbol: str, count: int = CANDLES_KEPT) -> list[Candle]:
        count = min(count, CANDLES_KEPT)  # the list may hold up to CANDLES_SLACK older ones, not yet trimmed
        return [from_json(Candle, raw) for raw in self.client.lrange(self.key(f"candles:{symbol}"), -count, -1)]

    @_wrap_errors
    def read_newest_candles(self, symbol: str, count: int) -> tuple[list[Candle], int]:
        """The newest `count` candles and how many are kept in all (as many as read_candles reads), in one
        round trip."""
        count = min(count, CANDLES_KEPT)
        pipe = self.client.pipeline(transaction=True)
        pipe.lrange(self.key(f"candles:{symbol}"), -count, -1)
        pipe.llen(self.key(f"candles:{symbol}"))
        raws, total = pipe.execute()
        return [from_json(Candle, raw) for raw in raws], min(int(total), CANDLES_KEPT)

    # ------------------------------------------------------------------------------ buy history

    @_wrap_errors
    def newest_candle_raw(self, symbol: str) -> str | None:
        """The newest candle of a symbol as stored: a cheap check whether the candles changed."""
        return self.client.lindex(self.key(f"candles:{symbol}"), -1)

    @_queueable
    def record_buy(self, symbol: str, ts_ms: int, entry_id: str) -> None:
        key = self.key(f"buys:{symbol}")

        def record(pipe: Any) -> None:
            pipe.zadd(key, {entry_id: ts_ms})
            pipe.zremrangebyscore(key, "-inf", ts_ms - BUY_HISTORY_MS)

        self._write(record, several=True)

    @_wrap_errors
    def buys_since(self, symbol: str, since_ms: int) -> list[int]:
        return [int(score) for _, score in self.client.zrangebyscore(self.key(f"buys:{symbol}"), since_ms, "+inf", withscores=True)]

    # ------------------------------------------------------------------- small records by id (stores.Memory)

    @_queueable
    def remember(self, memory: Memory, item_id: str, value: Mapping[str, Any]) -> None:
        key, raw = self.key(_MEMORY_KEYS[memory]), json.dumps(value, default=str)
        with self._batch_lock:
            queue = self._queueing()
            if queue is not None:
                queue.hset(key, item_id, raw)
                return
        self.client.hset(key, item_id, raw)

    @_queueable
    def forget(self, memory: Memory, item_id: str) -> None:
        key = self.key(_MEMORY_KEYS[memory])
        with self._batch_lock:
            queue = self._queueing()
            if queue is not None:
                queue.hset(key, item_id, None)
                return
        self.client.hdel(key, item_id)

    @_wrap_errors
    def recall(self, memory: Memory) -> dict[str, dict[str, Any]]:
        return {k: json.loads(v) for k, v in self.client.hgetall(self.key(_MEMORY_KEYS[memory])).items()}

    def open_trade_id(self, symbol: str) -> str | None:
        """The trade id the executor remembers for a symbol's open trade (the supervisor names its closes by it)."""
        remembered = self.recall(Memory.OPEN_TRADES).get(symbol)
        return (remembered or {}).get("state", {}).get("trade_id") or None

    # --------------------------------------------------------------------------------- commands

    @_wrap_errors
    def send_command(self, command: Command) -> str:
        fields = to_record(command)
        return self.client.xadd(self.key("commands"), fields, maxlen=self.stream_maxlen, approximate=True)

    @_wrap_errors
    def send_raw_command(self, fields: Mapping[str, str]) -> str:
        """For tests of the reader's robustness: put anything on the stream."""
        return self.client.xadd(self.key("commands"), dict(fields))

    @_wrap_errors
    def ensure_group(self, group: str, start_id: str = "$") -> None:
        try:
            self.client.xgroup_create(self.key("commands"), group, id=start_id, mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    @_wrap_errors
    def read_commands(self, group: str, consumer: str, block_ms: int = 1000, count: int = 10) -> list[StreamEntry]:
        """New commands for this group; pending ones (delivered, never acked) first, after a restart.
        ConsumerGroupMissingError when the group is gone (Redis lost it): the reader recreates it."""
        pending = self.client.xreadgroup(group, consumer, {self.key("commands"): "0"}, count=count)
        entries = pending[0][1] if pending else []
        if not entries:
            # BLOCK 0 would wait forever: no blocking at all is None
            fresh = self.client.xreadgroup(group, consumer, {self.key("commands"): ">"}, count=count, block=block_ms or None)
            entries = fresh[0][1] if fresh else []
        return [StreamEntry(i, f or {}) for i, f in entries]

    @_wrap_errors
    def newest_commands(self, count: int, after: str | None = None) -> list[StreamEntry]:
        """Up to `count` of the newest entries (newest first), only those after entry id `after`."""
        low = f"({after}" if after else "-"
        return [StreamEntry(i, f or {}) for i, f in self.client.xrevrange(self.key("commands"), "+", low, count=count)]

    @_wrap_errors
    def ack_command(self, group: str, entry_id: str) -> None:
        self.client.xack(self.key("commands"), group, entry_id)

    @_wrap_errors
    def ack_commands(self, group: str, entry_ids: Iterable[str]) -> None:
        ids = list(entry_ids)
        if ids:
            self.client.xack(self.key("commands"), group, *ids)

    @_wrap_errors
    def trim_commands(self) -> None:
        """Anyone may XADD without MAXLEN: the readers keep the stream capped as send_command does."""
        self.client.xtrim(self.key("commands"), maxlen=self.stream_maxlen, approximate=True)

    def _claim_key(self, command_id: str) -> str:
        return self.key(f"claim:{command_id}")

    def _result_key(self, command_id: str) -> str:
        return self.key(f"result:{command_id}")

    @_wrap_errors
    def claim_command(self, command_id: str, handler: str, ttl_s: int = CLAIM_TTL_S) -> bool:
        """True for exactly one caller per command id (for CLAIM_TTL_S): the at-most-once guarantee."""
        return bool(self.client.set(self._claim_key(command_id), handler, nx=True, ex=ttl_s))

    @_wrap_errors
    def claim_commands(self, command_ids: Iterable[str], handler: str, ttl_s: int = CLAIM_TTL_S) -> list[bool]:
        """claim_command for many ids in one round trip; a repeated id wins at most once."""
        pipe = self.client.pipeline(transaction=False)
        for command_id in command_ids:
            pipe.set(self._claim_key(command_id), handler, nx=True, ex=ttl_s)
        return [bool(won) for won in pipe.execute()]

    @_wrap_errors
    def command_claimed_by(self, command_id: str) -> str | None:
        return self.client.get(self._claim_key(command_id))

    @_wrap_errors
    def write_command_result(self, result: CommandResult) -> None:
        self.write_command_results([result])

    @_wrap_errors
    def write_command_results(self, results: Iterable[CommandResult]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for result in results:
            record = to_record(result)
            pipe.set(self._result_key(result.command_id), json.dumps(record), ex=RESULT_TTL_S)
            pipe.xadd(self.key("command_results"), record, maxlen=self.stream_maxlen, approximate=True)
        pipe.execute()

    @_wrap_errors
    def reject_commands(self, rejections: Iterable[tuple[str, str]], handler: str, ts_ms: int,
                        claim_ttl_s: int = REJECTION_CLAIM_TTL_S) -> list[str]:
        """Claim and answer `rejected` for many (command id, reason) pairs in one call; the ids won.

        What write_command_results does for each, done inside Redis: a flood of junk costs one round
        trip per batch instead of three commands per entry packed and parsed in Python."""
        args: list[str] = []
        for command_id, reason in rejections:
            args += [command_id, reason]
        if not args:
            return []
        won = self._reject_script(
            keys=[self.key("command_results")],
            args=[self.key(""), handler, claim_ttl_s, RESULT_TTL_S, str(ts_ms), self.stream_maxlen, *args],
        )
        return list(won or [])

    @_wrap_errors
    def read_command_result(self, command_id: str) -> CommandResult | None:
        raw = self.client.get(self._result_key(command_id))
        return from_record(CommandResult, json.loads(raw)) if raw else None

    @_wrap_errors
    def read_command_results(self, count: int = 50) -> list[CommandResult]:
        return [from_record(CommandResult, e.fields) for e in reversed(self._xrevrange("command_results", count))]

    def wait_command_result(self, command_id: str, timeout_s: float, *, final_only: bool = True) -> CommandResult | None:
        """Poll until the command has a final result (done / rejected / failed), or time runs out."""
        deadline = time.monotonic() + timeout_s
        last = None
        while True:
            last = self.read_command_result(command_id)
            if last and (not final_only or last.status.is_final):
                return last
            if time.monotonic() >= deadline:
                return last
            time.sleep(0.01)

    # ---------------------------------------------------------------------- simulated venue store

    def venue_store(self, venue_name: str) -> "VenueSnapshotStore":
        venue_store = VenueSnapshotStore(self, venue_name)
        self._venue_stores.add(venue_store)
        return venue_store

    def forget_venue_versions(self) -> None:
        """A declared loss covers the simulated venues too: their empty snapshots are not a second alarm."""
        for venue_store in list(self._venue_stores):
            venue_store.rebase()

    # ----------------------------------------------------------------------------------- wiping

    @_wrap_errors
    def wipe(self) -> int:
        """Delete every key of this bot (tests, `main.py reset`)."""
        keys = list(self.client.scan_iter(match=self.key("*"), count=500))
        return self.client.delete(*keys) if keys else 0


_CANDLE_HEADS: dict[tuple[str, str], str] = {}  # (symbol, timeframe) -> the JSON text's start


def candle_json(c: Candle) -> str:
    """`models.to_json(c)`, the same text, without the generic field walk (100 candles every tick); the
    numbers need no escaping (a Decimal's "f" form is digits, sign and point, or NaN / Infinity)."""
    head = _CANDLE_HEADS.get((c.symbol, c.timeframe))
    if head is None:
        head = _CANDLE_HEADS[(c.symbol, c.timeframe)] = json.dumps(
            {"symbol": c.symbol, "timeframe": c.timeframe}, separators=(",", ":"))[:-1]
    # str() is a Decimal's "f" form unless it writes an exponent (3x faster than format, 500 a tick)
    o, h, lo, cl, v = str(c.open), str(c.high), str(c.low), str(c.close), str(c.volume)
    if "E" in o or "E" in h or "E" in lo or "E" in cl or "E" in v:
        o, h, lo, cl, v = f"{c.open:f}", f"{c.high:f}", f"{c.low:f}", f"{c.close:f}", f"{c.volume:f}"
    return (f'{head},"open_time_ms":"{c.open_time_ms}","open":"{o}","high":"{h}",'
            f'"low":"{lo}","close":"{cl}","volume":"{v}"}}')


def _equity_key(book: Book | None) -> str:
    """A book's own curve; `equity` alone is the curve written before books existed."""
    return f"equity:{book.key}" if book is not None else "equity"


def trade_key(trade: Trade) -> str:
    """What makes a trade one trade: trade ids repeat (an adopted position's id is per symbol)."""
    return f"{trade.trade_id}|{trade.symbol}|{trade.entry_ms}|{trade.exit_ms}"




# KEYS: epoch. ARGV: the new marker (JSON), the epoch it may replace ("" : only an absent marker).
_CLAIM_EPOCH_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if not current then
  redis.call('SET', KEYS[1], ARGV[1])
elseif ARGV[2] ~= '' then
  local ok, marker = pcall(cjson.decode, current)
  local epoch = current
  if ok and type(marker) == 'table' and marker['epoch'] ~= nil then epoch = tostring(marker['epoch']) end
  if epoch == ARGV[2] then redis.call('SET', KEYS[1], ARGV[1]) end
end
return redis.call('GET', KEYS[1])
"""


def _marker_of(marker: str | None) -> tuple[str, int] | None:
    """The run marker's epoch and since when it is in force (0: the marker says no time)."""
    if not marker:
        return None
    try:
        data = json.loads(marker)
        epoch = str(data["epoch"])
    except (ValueError, TypeError, KeyError):
        return marker, 0  # not ours, but a marker: compared as it is
    try:
        return epoch, int(data.get("since_ms") or 0)
    except (ValueError, TypeError):
        return epoch, 0


def _epoch_of(marker: str | None) -> str | None:
    known = _marker_of(marker)
    return None if known is None else known[0]


_APPEND_TRADE_ONCE = """
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return false end
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(fields))
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[2]) + 1))
return id
"""

# The fields and JSON of write_command_results for a `rejected` result with elapsed 0 (to_record's form).
_REJECT_SCRIPT = """
local prefix, handler, claim_ttl, result_ttl, ts, maxlen = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local won = {}
for i = 7, #ARGV, 2 do
  local id, reason = ARGV[i], ARGV[i + 1]
  if redis.call('SET', prefix .. 'claim:' .. id, handler, 'NX', 'EX', claim_ttl) then
    local record = cjson.encode({command_id = id, status = 'rejected', handled_by = handler, detail = reason,
                                 elapsed_ms = '0.0', ts_ms = ts})
    redis.call('SET', prefix .. 'result:' .. id, record, 'EX', result_ttl)
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'command_id', id, 'status', 'rejected',
               'handled_by', handler, 'detail', reason, 'elapsed_ms', '0.0', 'ts_ms', ts)
    won[#won + 1] = id
  end
end
return won
"""

# KEYS: a stream. ARGV: its MAXLEN (~), then each entry: how many arguments it has (fields and values), then
# them (field, value, field, value…).
_XADD_MANY_SCRIPT = """
local at = 2
while at <= #ARGV do
  local n = tonumber(ARGV[at])
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, at + 1, at + n))
  at = at + n + 1
end
return 1
"""

# KEYS: the candle lists. ARGV: how many to keep, how many more a list may hold before it is trimmed back to
# them, each key's count of candles, then the candles (JSON texts) in key order.
_PUSH_CANDLES_SCRIPT = """
local kept, slack = tonumber(ARGV[1]), tonumber(ARGV[2])
local at = #KEYS + 3
for i, key in ipairs(KEYS) do
  local count = tonumber(ARGV[i + 2])
  if redis.call('RPUSH', key, unpack(ARGV, at, at + count - 1)) > kept + slack then
    redis.call('LTRIM', key, -kept, -1)
  end
  at = at + count
end
return #KEYS
"""

# KEYS: intents. ARGV: client order id, status. Every field of an intent record is a string (to_record).
_MARK_INTENT_SCRIPT = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local record = cjson.decode(raw)
record['status'] = ARGV[2]
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(record))
return 1
"""

# KEYS: the venue's hash, its orders' hash, its lock, its closed order ids (a list, oldest first), its market
# by symbol (a hash). ARGV: the lock rule ('any'; 'held': released once saved, ARGV[2] its token; 'unlocked':
# refused while anyone holds it), the token, the expected version, the new one, 'whole' or 'parts', then a
# whole snapshot, or the head, how many arguments the symbols' market written takes (after ARGV[16]: symbol,
# record, symbol, record…; a JSON list of them decoded in the script took Redis twice as long), the orders
# written and forgotten as JSON lists ([id, record, id, record…] and [id…]; cjson gives back each string's
# exact bytes), the ids closed since the last save (a JSON list), how many closed ids are kept, '1' when they
# replace the list, the marker kept in `data` (SAVED_IN_PARTS), and '1' when the symbols written are the
# whole market (it replaces the hash and the one-field market of earlier versions). A whole snapshot
# replaces the parts and the parts replace a whole one.
# With an order that adds risk (ARGV[15] '1'): KEYS[6..8] the bot's halt flag, state hash and run marker,
# ARGV[16] the run marker's epoch this process works under ('': none); -1, nothing written, unless the bot
# is ACTIVE as StateStore.trading_state decides it (no flag, no state or ACTIVE, the marker ours: HALTED,
# REDUCING and a state nobody can read all refuse it).
_SAVE_VENUE_SCRIPT = """
if ARGV[1] == 'unlocked' and redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local current = redis.call('HGET', KEYS[1], 'version')
if (current or '0') ~= ARGV[3] then return 0 end
if ARGV[15] == '1' then
  if redis.call('EXISTS', KEYS[6]) == 1 then return -1 end
  local state = redis.call('HGET', KEYS[7], 'trading_state')
  if state and state ~= '' and state ~= 'ACTIVE' then return -1 end
  if ARGV[16] ~= '' then
    local raw = redis.call('GET', KEYS[8])
    local epoch = raw
    if raw then
      local ok, marker = pcall(cjson.decode, raw)
      if ok and type(marker) == 'table' and marker['epoch'] ~= nil then epoch = tostring(marker['epoch']) end
    end
    if epoch ~= ARGV[16] then return -1 end
  end
end
if ARGV[5] == 'whole' then
  redis.call('HSET', KEYS[1], 'version', ARGV[4], 'data', ARGV[6])
  redis.call('HDEL', KEYS[1], 'head', 'market')
  redis.call('DEL', KEYS[2], KEYS[4], KEYS[5])
else
  redis.call('HSET', KEYS[1], 'version', ARGV[4], 'head', ARGV[6], 'data', ARGV[13])
  if ARGV[14] == '1' then
    redis.call('HDEL', KEYS[1], 'market')
    redis.call('DEL', KEYS[5])
  end
  local last = 16 + (tonumber(ARGV[7]) or 0)
  for at = 17, last, 400 do
    redis.call('HSET', KEYS[5], unpack(ARGV, at, math.min(at + 399, last)))
  end
  local written = cjson.decode(ARGV[8])
  for at = 1, #written, 400 do
    redis.call('HSET', KEYS[2], unpack(written, at, math.min(at + 399, #written)))
  end
  local gone = cjson.decode(ARGV[9])
  for at = 1, #gone, 400 do
    redis.call('HDEL', KEYS[2], unpack(gone, at, math.min(at + 399, #gone)))
  end
  if ARGV[12] == '1' then redis.call('DEL', KEYS[4]) end
  local closed = cjson.decode(ARGV[10])
  for at = 1, #closed, 400 do
    redis.call('RPUSH', KEYS[4], unpack(closed, at, math.min(at + 399, #closed)))
  end
  local kept = tonumber(ARGV[11])
  if kept == 0 then redis.call('DEL', KEYS[4]) else redis.call('LTRIM', KEYS[4], -kept, -1) end
end
if ARGV[1] == 'held' and redis.call('GET', KEYS[3]) == ARGV[2] then redis.call('DEL', KEYS[3]) end
return 1
"""

# KEYS: a lock. ARGV: its holder's token.
_RELEASE_LOCK_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _market_by_symbol(market: str) -> dict[str, str]:
    """A market in one JSON text ({field: {symbol: value}}) by symbol ({symbol: JSON of {field: value}})."""
    by_symbol: dict[str, dict[str, Any]] = {}
    for field, values in json.loads(market).items():
        for symbol, value in values.items():
            by_symbol.setdefault(symbol, {})[field] = value
    return {k: json.dumps(v, separators=(",", ":")) for k, v in by_symbol.items()}


@dataclass(frozen=True, slots=True)
class VenueSnapshot:
    """A simulated venue's snapshot as loaded: the snapshot (dict) and its orders' JSON as Redis holds
    them (empty when it was saved whole: the next parts save writes them all)."""

    version: int
    snapshot: dict[str, Any] | None
    saved_orders: dict[str, str]
    market_saved: bool  # the market is kept by symbol: a save writes only the symbols that moved
    closed_saved: bool  # the closed order ids are kept apart (a list)


def _order_number(record: Mapping[str, Any]) -> int:
    try:
        return int(record.get("exchange_order_id") or 0)
    except (TypeError, ValueError):
        return 0


# What a venue saved in parts keeps in its hash's `data` field, where a version from before the parts read the
# whole snapshot: that version refuses this format loudly ("unknown simulator snapshot format") instead of
# taking an absent field for a fresh account and saving that over the parts.
SAVED_IN_PARTS = json.dumps({"format": "saved-in-parts", "read": "head, market, orders and closed ids"},
                            separators=(",", ":"))


class VenueSnapshotStore:
    """Optimistic-concurrency persistence for the simulated venue.

    The bot and the supervisor may both act on the same simulated account (the supervisor flattens it
    when the bot is frozen or dead). Each save names the version it started from; a save from a
    stale copy is refused, and the caller reloads instead of overwriting newer state.
    """

    def __init__(self, store: StateStore, venue_name: str):
        self.store = store
        self.venue_name = venue_name
        self.key = store.key(f"venue:{venue_name}")
        self.orders_key = self.key + ":orders"
        self.closed_key = self.key + ":closed"
        self.market_key = self.key + ":market"
        self._held: VenueLock | None = None  # the lock this process holds now, if any
        self._read_along: tuple[int, Any] | None = None  # (version, the batch it was read in)
        self._highest = 0  # versions only grow: a lower one means Redis lost the venue's latest state

    @_wrap_errors
    def load(self) -> tuple[int, str | None]:
        """The version and the whole snapshot as JSON text (its parts put together), None when there is none."""
        version, whole, head, market, by_symbol, orders, closed = self._read()
        if whole is not None or head is None:
            return version, whole
        snapshot = self._assemble(json.loads(head), market, by_symbol, orders, closed)
        return version, json.dumps(snapshot, separators=(",", ":"))

    @_wrap_errors
    def load_snapshot(self) -> VenueSnapshot:
        """The snapshot, its parts put together."""
        version, whole, head, market, by_symbol, orders, closed = self._read()
        if whole:
            return VenueSnapshot(version, json.loads(whole), {}, False, False)
        if head is None:  # leftovers, if any: the next save forgets them
            return VenueSnapshot(version, None, orders, False, False)
        parsed = json.loads(head)
        closed_apart = "closed" not in parsed  # a head from before the closed ids were kept apart carries them
        # a market in one field (an earlier version's) is written whole, by symbol, at the next save
        return VenueSnapshot(version, self._assemble(parsed, market, by_symbol, orders, closed), orders,
                             market is None, closed_apart)

    def _read(self) -> tuple[int, str | None, str | None, str | None, dict[str, str], dict[str, str], list[str]]:
        def read(pipe: Any) -> None:
            pipe.hmget(self.key, "version", "data", "head", "market")
            pipe.hgetall(self.market_key)
            pipe.hgetall(self.orders_key)
            pipe.lrange(self.closed_key, 0, -1)

        (version, whole, head, market), by_symbol, orders, closed = self.store._run(read)
        if whole == SAVED_IN_PARTS:
            whole = None  # the marker that stops an older version, not a snapshot
        self._seen(int(version or 0))
        return int(version or 0), whole, head, market, by_symbol, orders, closed

    @staticmethod
    def _assemble(snapshot: dict[str, Any], market: str | None, by_symbol: Mapping[str, str],
                  orders: Mapping[str, str], closed: list[str]) -> dict[str, Any]:
        """The head (parsed) completed: the market (each symbol's entries in the snapshot's market fields, in
        symbol order: a large hash comes back in no order), the orders in the order the venue numbered them,
        which is the order it keeps them in."""
        if market is not None:
            snapshot.update(json.loads(market))
        for symbol in sorted(by_symbol):
            for field, value in json.loads(by_symbol[symbol]).items():
                snapshot.setdefault(field, {})[symbol] = value
        snapshot["orders"] = sorted((json.loads(raw) for raw in orders.values()), key=_order_number)
        snapshot.setdefault("closed", closed)
        return snapshot

    @_wrap_errors
    def version(self) -> int:
        held, along = self._held, self._read_along
        self._read_along = None
        if held is not None and held.fresh_version is not None and held.thread == threading.get_ident():
            version, held.fresh_version = held.fresh_version, None  # read with the lock: nobody changed it since
        elif (along is not None and along[1] is self.store._queue and along[0] >= self._highest
              and self.store._batch_thread == threading.get_ident()):
            version = along[0]  # (never one from before a save of ours: that would read as state lost)
        else:
            version = int(self.store.client.hget(self.key, "version") or 0)
        self._seen(version)
        return version

    def read_along(self, version: int) -> None:
        """The version, read in this tick's batch with the trading state: the next version check in the same
        batch uses it instead of a round trip of its own (as if it had been made then, a moment earlier;
        every change of the venue checks again under the lock)."""
        self._read_along = (version, self.store._queue)

    @_wrap_errors
    def compare_and_save(self, expected_version: int, data: Any, market: Mapping[str, str] | None = None,
                         whole_market: bool = False, *, only_if_active: bool = False) -> bool:
        """Save over `expected_version` only; the bot's queued writes go first, in the same round trip:
        whatever the bot wrote before the venue changed is durable when the change is. A save under this
        process's lock releases it (one round trip less per venue call).

        With parts, `market` is the market of the symbols a candle moved since the last save (symbol -> JSON,
        `simulator.exchange.SimExchange.market_parts`), `whole_market` when it is every symbol's (a first save,
        or over a market kept in one field): the whole market (~17 KB with 100 symbols) went with every save
        after a candle, three times per entry, re-encoded each time although a candle moves one symbol. A
        market in one field (`data.market`) is saved by symbol, whole.

        `only_if_active`: the save places an order that adds risk, so it is made only while the bot is ACTIVE,
        checked in the same atomic step (TradingHaltedError, nothing saved, otherwise): a halt set at any
        moment before the order is in Redis stops it, and the bot's own read of the flag before the order
        is not needed (a round trip per entry)."""
        held = self._held
        if held is not None and held.token is not None and held.thread == threading.get_ident():
            saved = self._save("held", held.token, expected_version, data, market, whole_market, only_if_active)
            if saved:
                held.released_by_save()
        else:
            saved = self._save("any", "", expected_version, data, market, whole_market, only_if_active)
        return self._saved(bool(saved), expected_version)

    @_wrap_errors
    def save_if_unlocked(self, expected_version: int, data: Any, market: Mapping[str, str] | None = None,
                         whole_market: bool = False, *, only_if_active: bool = False) -> bool:
        """compare_and_save without taking the lock, refused while anyone holds it: one round trip for a
        save that changes nothing anyone acts on (the candles of a quiet tick, see venues/sim.py)."""
        saved = self._save("unlocked", "", expected_version, data, market, whole_market, only_if_active)
        return self._saved(bool(saved), expected_version)

    def _save(self, rule: str, token: str, expected_version: int, data: Any, market: Mapping[str, str] | None,
              whole_market: bool, only_if_active: bool = False) -> Any:
        """`data`: a whole snapshot (JSON text), or its parts (simulator.exchange.SnapshotParts)."""
        store = self.store
        if only_if_active and store._lost:  # a loss noticed here is HALTED at once (trading_state)
            raise TradingHaltedError(f"not placed: the bot's state was lost ({store._lost[0]})")
        symbols: list[str] = []
        if isinstance(data, str):
            args: tuple[str, ...] = ("whole", data) + ("",) * 8  # the parts' places, so the guard's stay put
        else:
            written = [x for item in data.orders.items() for x in item]

            def listed(items: Any) -> str:
                return json.dumps(items, ensure_ascii=False, separators=(",", ":"))

            if data.market is not None:
                market, whole_market = _market_by_symbol(data.market), True
            symbols = [x for item in market.items() for x in item] if market else []
            args = ("parts", data.head, str(len(symbols)), listed(written), listed(data.gone),
                    listed(data.closed), str(data.closed_kept), "1" if data.closed_replace else "0", SAVED_IN_PARTS,
                    "1" if whole_market else "0")
        guard = ("1", store.epoch or "") if only_if_active else ("0", "")
        (saved,) = store._run(lambda r: r.eval(
            _SAVE_VENUE_SCRIPT, 8, self.key, self.orders_key, self.key + ":lock", self.closed_key, self.market_key,
            store.key("halt"), store.key("state"), store.key("epoch"),
            rule, token, str(expected_version), str(expected_version + 1), *args, *guard, *symbols))
        if saved == -1:
            raise TradingHaltedError("not placed: the bot was halted (or not ACTIVE) as the order was to be placed")
        return saved

    def _saved(self, saved: bool, expected_version: int) -> bool:
        if saved:
            self._highest = max(self._highest, expected_version + 1)
        return saved

    def rebase(self) -> None:
        self._highest = 0

    def _seen(self, version: int) -> None:
        """Raise StateLostError once when the snapshot went back; the call after works on what is there
        (closes must still work), while the noted loss keeps this process HALTED."""
        if version >= self._highest:
            self._highest = version
            return
        if version == 0:
            what = "its snapshot vanished: the simulated paper account was lost"
        else:
            what = f"Redis lost its latest writes (version {self._highest} went back to {version})"
        detail = f"the simulated venue '{self.venue_name}' went back: {what}"
        self._highest = version
        self.store.note_state_lost(detail)
        raise StateLostError(f"state lost: {detail}")

    def lock(self, timeout_s: float = 2.0, blocking_timeout_s: float = 3.0) -> "VenueLock":
        """A Redis lock that expires, so a frozen holder cannot block a flatten forever. Taken before every
        change of the venue."""
        return VenueLock(self, timeout_s, blocking_timeout_s)


class VenueLock:
    """The simulated venue's expiring lock, as redis-py's Lock (SET NX PX with a random token; released
    only by its holder), in fewer round trips: taking it also sends the bot's queued writes and reads the
    venue's version, and the save made under it releases it. redis-py's errors propagate, as Lock's do."""

    RETRY_S = 0.02

    def __init__(self, venue: VenueSnapshotStore, timeout_s: float, blocking_timeout_s: float):
        self.venue = venue
        self.name = venue.key + ":lock"
        self.timeout_ms = max(1, int(timeout_s * 1000))
        self.blocking_timeout_s = blocking_timeout_s
        self.token: str | None = None
        self.thread: int | None = None
        self.fresh_version: int | None = None  # the version read with the lock, for the first version() after
        self._saved = False

    def acquire(self) -> bool:
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self.blocking_timeout_s

        def take(pipe: Any) -> None:
            pipe.set(self.name, token, nx=True, px=self.timeout_ms)
            pipe.hget(self.venue.key, "version")

        while True:
            taken, version = self.venue.store._run(take)
            if taken:
                self.token, self.thread, self.fresh_version, self._saved = token, threading.get_ident(), int(version or 0), False
                self.venue._held = self
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(self.RETRY_S)

    def released_by_save(self) -> None:
        self._saved = True

    def release(self) -> None:
        token, saved, self.token, self.fresh_version = self.token, self._saved, None, None
        if self.venue._held is self:
            self.venue._held = None
        if token is None:
            raise redis.exceptions.LockError("cannot release a lock that is not held")
        if saved:
            return
        if not self.venue.store.client.eval(_RELEASE_LOCK_SCRIPT, 1, self.name, token):
            raise redis.exceptions.LockNotOwnedError("the venue's lock expired before it was released")


_str = as_field
