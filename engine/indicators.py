"""Technical indicators in two forms that give the same numbers to the last bit.

Indicators are the one place floats are allowed: they are opinions about prices, not money.

- Vectorised functions over float pandas Series / DataFrames (`ema`, `atr`, `rsi`, `bollinger`…) work on
  a whole series at once (no per-candle Python loop), so a backtest over a month of 1-minute candles
  costs milliseconds. They return a Series aligned to the input's index; values that cannot be computed
  yet (not enough history) are NaN, so a comparison against them is simply False.
- Streaming classes (`Ema`, `Wilder`, `Atr`, `Rsi`, `Window`, `Bollinger`) take one value or candle at
  a time in O(1) or O(window) work, for the live loop.

The two forms make the same floating-point operations in the same order, so they agree exactly, not
within a tolerance: strategies compare these values against thresholds, and a value one ulp away from
its twin can flip a decision. Hence three choices below:
- recursive averages copy pandas' own `ewm(adjust=False)` arithmetic (its alpha goes through a centre
  of mass, and its update is a weighted mean that skips a value equal to the average);
- a window's mean and deviation are recomputed from the window's values in a fixed order (oldest first,
  as offsets from the oldest value) instead of pandas' running sums, whose result depends on the whole
  history before the window; offsets make a flat window's mean its value and its deviation 0 exactly;
- Wilder's seed is that same window mean.

Conventions, chosen to match what traders' charting tools show:
- `ema` is the recursive EMA with alpha = 2 / (span + 1), seeded with the first value (pandas
  `adjust=False`): the same recurrence a live chart runs candle by candle.
- `rsi` and `atr` use Wilder's smoothing (alpha = 1 / period) seeded with the simple mean of the first
  `period` values, exactly as Wilder defined them.
- `bollinger` uses the population standard deviation (ddof = 0), as Bollinger did.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Sequence

import numpy as np
import pandas as pd

NAN = float("nan")


# ------------------------------------------------------------------------------- shared arithmetic


def ewm_alpha(*, span: int | None = None, alpha: float | None = None) -> float:
    """The alpha pandas really uses for `ewm(span=…)` or `ewm(alpha=…)`: it converts either to a centre of
    mass and back, and 1 / (1 + (span - 1) / 2) is not always 2 / (span + 1) to the last bit."""
    if span is not None:
        com = (span - 1) / 2
    elif alpha is not None:
        com = (1 - alpha) / alpha
    else:
        raise ValueError("ewm_alpha needs a span or an alpha")
    return 1.0 / (1.0 + float(com))


def window_mean(values: Sequence[float]) -> float:
    """Mean of a non-empty window, summed oldest first as offsets from the oldest value."""
    ref = values[0]
    total = 0.0
    for v in values:
        total += v - ref
    return ref + total / len(values)


def window_std(values: Sequence[float], mean: float) -> float:
    """Population standard deviation of a window around its `window_mean`, summed oldest first."""
    total = 0.0
    for v in values:
        d = v - mean
        total += d * d
    return math.sqrt(total / len(values))


def _window_means(x: np.ndarray, window: int) -> np.ndarray:
    """`window_mean` of every full window, vectorised: element k of each window is added in turn."""
    n = len(x)
    out = np.full(n, np.nan)
    if n < window:
        return out
    m = n - window + 1
    ref = x[:m]
    total = np.zeros(m)
    for k in range(window):
        total += x[k : k + m] - ref
    out[window - 1 :] = ref + total / window
    return out


def _window_stds(x: np.ndarray, window: int, means: np.ndarray) -> np.ndarray:
    """`window_std` of every full window around `means` (from `_window_means`), vectorised."""
    n = len(x)
    out = np.full(n, np.nan)
    if n < window:
        return out
    m = n - window + 1
    mean = means[window - 1 :]
    total = np.zeros(m)
    for k in range(window):
        d = x[k : k + m] - mean
        total += d * d
    out[window - 1 :] = np.sqrt(total / window)
    return out


# ------------------------------------------------------------------------------------- vectorised


def ema(s: pd.Series, span: int) -> pd.Series:
    """Exponential moving average, alpha = 2 / (span + 1), seeded with the first value."""
    return s.astype(float).ewm(span=span, adjust=False).mean()


def _wilder(values: pd.Series, period: int, first: int) -> pd.Series:
    """Wilder's running average: SMA of `values[first:first+period]`, then avg = avg + (x - avg) / period.

    Seeding with the SMA is done by blanking everything before the seed position and letting the
    recursive EWM start from the seed (pandas starts `adjust=False` at the first non-NaN value).
    """
    seed_at = first + period - 1
    out = values.astype(float).copy()
    if len(out) <= seed_at:
        return pd.Series(np.nan, index=values.index, dtype=float)
    seed = window_mean(out.to_numpy()[first : seed_at + 1])
    out.iloc[:seed_at] = np.nan
    out.iloc[seed_at] = seed
    return out.ewm(alpha=1.0 / period, adjust=False).mean()


def true_range(frame: pd.DataFrame) -> pd.Series:
    """max(high - low, |high - previous close|, |low - previous close|); the first is high - low."""
    high, low, close = frame["high"].astype(float), frame["low"].astype(float), frame["close"].astype(float)
    prev_close = close.shift(1)
    ranges = pd.concat([high - low, (high - prev_close).abs(), (low - prev_close).abs()], axis=1)
    return ranges.max(axis=1, skipna=True)


def atr(frame: pd.DataFrame, period: int) -> pd.Series:
    """Wilder's Average True Range; NaN for the first `period - 1` candles."""
    return _wilder(true_range(frame), period, first=0)


def rsi(s: pd.Series, period: int) -> pd.Series:
    """Wilder's Relative Strength Index in [0, 100]; NaN for the first `period` candles.

    A series that only rose is 100, one that only fell is 0, a flat one is 50.
    """
    delta = s.astype(float).diff()
    avg_gain = _wilder(delta.clip(lower=0.0), period, first=1)
    avg_loss = _wilder((-delta).clip(lower=0.0), period, first=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    value = value.where(avg_loss > 0, np.where(avg_gain > 0, 100.0, 50.0))
    return value.where(avg_gain.notna())


def rolling_mean(s: pd.Series, window: int) -> pd.Series:
    """Simple moving average over `window` values; NaN until the window is full."""
    return pd.Series(_window_means(s.to_numpy(dtype=float), window), index=s.index)


def bollinger(s: pd.Series, period: int, num_std: float) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(mid, upper, lower): the SMA and the SMA ± num_std population standard deviations."""
    x = s.to_numpy(dtype=float)
    means = _window_means(x, period)
    std = _window_stds(x, period, means)
    k = float(num_std)
    mid = pd.Series(means, index=s.index)
    return mid, pd.Series(means + k * std, index=s.index), pd.Series(means - k * std, index=s.index)


def swing_lows(low: pd.Series, lookback: int) -> pd.Series:
    """True where a low is a swing low: no lower low within `lookback` candles on either side.

    The left side must be complete (`lookback` earlier candles). The right side is clipped at the end
    of the series, so the newest candles can already count as swing lows: a stop is placed *now*, and
    the low just made is the structure that matters, even before later candles confirm it.
    """
    low = low.astype(float)
    left = low.rolling(lookback + 1, min_periods=lookback + 1).min()
    right = low[::-1].rolling(lookback + 1, min_periods=1).min()[::-1]
    return (low <= left) & (low <= right)


def swing_highs(high: pd.Series, lookback: int) -> pd.Series:
    """True where a high is a swing high: no higher high within `lookback` candles on either side.

    Same edge rules as `swing_lows`.
    """
    return swing_lows(-high.astype(float), lookback)


# -------------------------------------------------------------------------------------- streaming
# Inputs are never NaN here (candle prices, true ranges, price changes), which is all pandas' NaN
# bookkeeping would change.


class Ema:
    """`ema` one value at a time: `update` returns the EMA including that value."""

    __slots__ = ("_alpha", "_keep", "_total_weight", "value")

    def __init__(self, span: int):
        self._alpha = ewm_alpha(span=span)
        self._keep = 1.0 - self._alpha
        self._total_weight = self._keep + self._alpha  # not always 1.0 in floats, and pandas divides by it
        self.value = NAN

    def update(self, x: float) -> float:
        v = self.value
        if v != v:
            self.value = x
        elif x != v:  # pandas leaves an average alone when the value equals it
            self.value = (self._keep * v + self._alpha * x) / self._total_weight
        return self.value


class Wilder:
    """`_wilder` one value at a time: NaN until `period` values are in, then their mean, then smoothed."""

    __slots__ = ("_period", "_seed", "_alpha", "_keep", "_total_weight", "value")

    def __init__(self, period: int):
        self._period = period
        self._seed: list[float] | None = []
        self._alpha = ewm_alpha(alpha=1.0 / period)
        self._keep = 1.0 - self._alpha
        self._total_weight = self._keep + self._alpha
        self.value = NAN

    def update(self, x: float) -> float:
        seed = self._seed
        if seed is not None:
            seed.append(x)
            if len(seed) == self._period:
                self.value = window_mean(seed)
                self._seed = None
            return self.value
        v = self.value
        if x != v:
            self.value = (self._keep * v + self._alpha * x) / self._total_weight
        return self.value


def true_range_of(high: float, low: float, prev_close: float) -> float:
    """`true_range` of one candle; `prev_close` NaN for the first candle."""
    if prev_close != prev_close:
        return high - low
    return max(high - low, abs(high - prev_close), abs(low - prev_close))


class Atr:
    """`atr` one candle at a time."""

    __slots__ = ("_wilder", "_prev_close", "value")

    def __init__(self, period: int):
        self._wilder = Wilder(period)
        self._prev_close = NAN
        self.value = NAN

    def update(self, high: float, low: float, close: float) -> float:
        self.value = self._wilder.update(true_range_of(high, low, self._prev_close))
        self._prev_close = close
        return self.value


class Rsi:
    """`rsi` one close at a time."""

    __slots__ = ("_gain", "_loss", "_prev", "value")

    def __init__(self, period: int):
        self._gain = Wilder(period)
        self._loss = Wilder(period)
        self._prev = NAN
        self.value = NAN

    def update(self, close: float) -> float:
        prev, self._prev = self._prev, close
        if prev != prev:
            return self.value
        delta = close - prev
        gain = self._gain.update(max(delta, 0.0))
        loss = self._loss.update(max(-delta, 0.0))
        if gain != gain:
            self.value = NAN
        elif loss > 0:
            self.value = 100.0 - 100.0 / (1.0 + gain / loss)
        else:
            self.value = 100.0 if gain > 0 else 50.0
        return self.value


class Window:
    """The last `size` values, oldest first."""

    __slots__ = ("values", "size")

    def __init__(self, size: int):
        self.size = size
        self.values: deque[float] = deque(maxlen=size)

    def push(self, x: float) -> None:
        self.values.append(x)

    @property
    def full(self) -> bool:
        return len(self.values) == self.size

    def mean(self) -> float:
        """`rolling_mean` at the newest value: NaN until the window is full."""
        return window_mean(self.values) if self.full else NAN


class Bollinger:
    """`bollinger` one close at a time: `update` returns (mid, upper, lower), NaN until the window is full."""

    __slots__ = ("_window", "_k")

    def __init__(self, period: int, num_std: float):
        self._window = Window(period)
        self._k = float(num_std)

    def update(self, close: float) -> tuple[float, float, float]:
        w = self._window
        w.push(close)
        if not w.full:
            return NAN, NAN, NAN
        mid = window_mean(w.values)
        std = window_std(w.values, mid)
        return mid, mid + self._k * std, mid - self._k * std
