"""Strategies: the registry, the built-in strategies and how their signals are combined.

Every module in this package is imported when the package is, so a strategy registered with
`@register` in a new file here is available by its name in `strategy.enabled` without touching the
engine. `build_strategies` turns the settings into instances; `aggregate` combines their signals.
"""

from __future__ import annotations

import importlib
import pkgutil

from errors import ConfigError
from settings import StrategySettings

from .base import STRATEGIES, Strategy, candles_to_frame, register, timeframe_ms
from .consensus import aggregate

__all__ = [
    "STRATEGIES", "Strategy", "aggregate", "build_strategies", "candles_to_frame", "register", "timeframe_ms",
]


def _import_all() -> None:
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


_NOT_SECTIONS = frozenset({"enabled", "min_confidence", "entry_sides"})


def _section(settings: StrategySettings, name: str) -> object | None:
    """The strategy's own settings section, or None (user strategies have none)."""
    if name in _NOT_SECTIONS or name not in type(settings).model_fields:
        return None
    return getattr(settings, name)


def build_strategies(settings: StrategySettings) -> list[Strategy]:
    """One instance per name in `settings.enabled`, with its settings section (None if it has none)."""
    built: list[Strategy] = []
    seen: set[str] = set()
    for name in settings.enabled:
        if name in seen:
            continue
        seen.add(name)
        cls = STRATEGIES.get(name)
        if cls is None:
            known = ", ".join(sorted(STRATEGIES)) or "none"
            raise ConfigError(f"strategy.enabled: unknown strategy '{name}' (known: {known})")
        built.append(cls(_section(settings, name)))
    return built


_import_all()
