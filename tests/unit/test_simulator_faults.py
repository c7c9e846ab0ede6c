"""Injected faults: seeded, and each kind at its own moment (before the venue sees the call, or after)."""

import pytest

from errors import NetworkError, OrderRejectedError, RateLimitError, UnknownOrderStatusError
from settings import FaultSettings
from simulator import FaultInjector


def test_injector_when_all_rates_zero_then_never_raises_and_is_disabled():
    injector = FaultInjector(FaultSettings())

    for _ in range(1000):
        injector.before_call("submit")
        injector.after_call("submit")

    assert injector.enabled is False


@pytest.mark.parametrize(
    "field, moment, error",
    [
        ("timeout_before_rate", "before_call", NetworkError),
        ("rate_limit_rate", "before_call", RateLimitError),
        ("reject_rate", "before_call", OrderRejectedError),
        ("timeout_after_rate", "after_call", UnknownOrderStatusError),
    ],
)
def test_injector_when_rate_is_one_then_that_fault_every_time(field, moment, error):
    injector = FaultInjector(FaultSettings(**{field: 1.0}))

    with pytest.raises(error):
        getattr(injector, moment)("submit")


def test_injector_when_timeout_before_then_not_an_unknown_status():
    # "Never arrived" must not be mistaken for "arrived, answer lost": the recoveries differ.
    injector = FaultInjector(FaultSettings(timeout_before_rate=1.0))

    with pytest.raises(NetworkError) as info:
        injector.before_call("submit")

    assert not isinstance(info.value, UnknownOrderStatusError)


def test_injector_when_same_seed_then_same_sequence():
    def run(seed: int) -> list[str]:
        injector = FaultInjector(FaultSettings(seed=seed, timeout_before_rate=0.3, reject_rate=0.3))
        outcomes = []
        for _ in range(50):
            try:
                injector.before_call("submit")
                outcomes.append("ok")
            except Exception as exc:  # the outcome's type is what is compared
                outcomes.append(type(exc).__name__)
        return outcomes

    assert run(7) == run(7)
    assert run(7) != run(8)
    assert {"ok", "NetworkError", "OrderRejectedError"} <= set(run(7))
