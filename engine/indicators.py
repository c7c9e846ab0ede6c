"""Technical indicators, vectorised over float pandas Series / DataFrames.

Indicators are the one place floats are allowed: they are opinions about prices, not money. Every
function works on the whole series at once (no per-candle Python loop), so a backtest over a month of
1-minute candles costs milliseconds, and returns a Series aligned to its input's index. Values that
cannot be computed yet (not enough history) are NaN, so a comparison against them is simply False.

Conventions, chosen to match what traders' charting tools show:
- `ema` is the recursive EMA with alpha = 2 / (span + 1), seeded with the first value (pandas
  `adjust=False`): the same recurrence a live chart runs candle by candle.
- `rsi` and `atr` use Wilder's smoothing (alpha = 1 / period) seeded with the simple mean of the first
  `period` values, exactly as Wilder defined them.
- `bollinger` uses the population standard deviation (ddof = 0), as Bollinger did.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


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
    seed = out.iloc[first : seed_at + 1].mean()
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
    return s.astype(float).rolling(window, min_periods=window).mean()


def bollinger(s: pd.Series, period: int, num_std: float) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(mid, upper, lower): the SMA and the SMA ± num_std population standard deviations."""
    s = s.astype(float)
    mid = rolling_mean(s, period)
    std = s.rolling(period, min_periods=period).std(ddof=0)
    return mid, mid + float(num_std) * std, mid - float(num_std) * std


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
