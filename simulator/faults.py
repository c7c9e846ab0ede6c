"""Seeded fault injection for the simulated venue: the failures a real exchange API produces.

Used by exchange_client's sim adapter around order calls, never inside SimExchange, so the simulator's
book stays deterministic. Two moments matter to a caller, and they need opposite recovery:

- `before_call`: the request never took effect — a timeout before arrival (NetworkError), HTTP 429
  (RateLimitError) or a random rejection (OrderRejectedError). Resending is safe.
- `after_call`: the venue applied it but the answer was lost (UnknownOrderStatusError). The caller must
  look the order up by its client id before sending anything again.
"""

from __future__ import annotations

import random
from typing import Any

from errors import NetworkError, OrderRejectedError, RateLimitError, UnknownOrderStatusError

# Rejections a real Binance account sees now and then, for reasons outside the order itself.
RANDOM_REJECTIONS = (
    (-1008, "Server is currently overloaded with other requests. Please try again in a few minutes."),
    (-4131, "The counterparty's best price does not meet the PERCENT_PRICE filter limit."),
    (-1001, "Internal error; unable to process your request. Please try again."),
)


class FaultInjector:
    def __init__(self, faults: Any):
        """`faults` is a settings.FaultSettings (or anything with the same fields)."""
        self.settings = faults
        self._random = random.Random(faults.seed)

    @property
    def enabled(self) -> bool:
        s = self.settings
        return any(r > 0 for r in (s.timeout_before_rate, s.timeout_after_rate, s.rate_limit_rate, s.reject_rate,
                                   s.candle_error_rate))

    def before_call(self, operation: str) -> None:
        s = self.settings
        if self._hit(s.timeout_before_rate):
            raise NetworkError(f"{operation}: request timed out (injected; it never reached the venue)")
        if self._hit(s.rate_limit_rate):
            raise RateLimitError(f"{operation}: HTTP 429 Too Many Requests (injected)")
        if self._hit(s.reject_rate):
            code, message = self._random.choice(RANDOM_REJECTIONS)
            raise OrderRejectedError(f"{message} (injected)", code)

    def on_candle(self, operation: str) -> None:
        """The candle never reached the venue (a 503 or a timeout while the bot polls it)."""
        if self._hit(self.settings.candle_error_rate):
            raise NetworkError(f"{operation}: HTTP 503 Service Unavailable (injected; the venue did not see the candle)")

    def after_call(self, operation: str) -> None:
        if self._hit(self.settings.timeout_after_rate):
            raise UnknownOrderStatusError(
                f"{operation}: request timed out after it reached the venue (injected): look the order up "
                "by its client order id"
            )

    def _hit(self, rate: float) -> bool:
        # Draw only for enabled faults, so enabling one fault does not change another's sequence.
        return rate > 0 and self._random.random() < rate
