"""A slow read shown from its last answer while a background thread reads it again: the go-live evidence is
thousands of records (10,000 trades, 100,000 signal entries, ~2 s to read and parse), and a page refresh that
waited for it every few seconds broke the 300 ms refresh budget (the Live tab's p95 was 2.2 s).

Process-wide, like st.cache_data, keyed by what the caller names (the bot id): the first read of a key is
made in the page's run (there is nothing to show before it); after that an answer older than `ttl_s` is
still shown while one thread per key reads it again. A failed background read keeps the last answer and is
tried again at the next call; a failed first read raises to the caller, as the read itself would. `age`
says how old the answer shown is and why a read again failed, so a page never shows an old answer as new."""

from __future__ import annotations

import threading
import time
from typing import Callable, Generic, Hashable, TypeVar

T = TypeVar("T")


class Refreshing(Generic[T]):
    def __init__(self, ttl_s: float):
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._answers: dict[Hashable, tuple[float, T]] = {}
        self._reading: set[Hashable] = set()
        self._generation: dict[Hashable, int] = {}  # bumped by clear(): a read begun before it is dropped
        self._failures: dict[Hashable, str] = {}  # why the last read again failed (gone once one succeeds)

    def get(self, key: Hashable, read: Callable[[], T]) -> T:
        with self._lock:
            known = self._answers.get(key)
            stale = known is not None and time.monotonic() - known[0] >= self.ttl_s
            start = stale and key not in self._reading
            if start:
                self._reading.add(key)
            generation = self._generation.get(key, 0)
        if known is None:
            return self._store(key, read(), generation)
        if start:
            threading.Thread(target=self._read_again, args=(key, read, generation), daemon=True,
                             name=f"refresh-{key}").start()
        return known[1]

    def age(self, key: Hashable) -> tuple[float, str | None] | None:
        """Seconds since the answer shown was read, and why the last read again failed (kept until a read
        succeeds; None: none failed since); None when nothing was read for `key`."""
        with self._lock:
            known = self._answers.get(key)
            if known is None:
                return None
            return time.monotonic() - known[0], self._failures.get(key)

    def clear(self, key: Hashable | None = None) -> None:
        """Forget an answer (all of them without a key): the next call reads it in the page's run."""
        with self._lock:
            for k in list(self._answers) if key is None else [key]:
                self._answers.pop(k, None)
                self._failures.pop(k, None)
                self._generation[k] = self._generation.get(k, 0) + 1

    def _store(self, key: Hashable, value: T, generation: int) -> T:
        with self._lock:
            if self._generation.get(key, 0) == generation:  # not an answer from before a clear()
                self._answers[key] = (time.monotonic(), value)
                self._failures.pop(key, None)
        return value

    def _read_again(self, key: Hashable, read: Callable[[], T], generation: int) -> None:
        try:
            self._store(key, read(), generation)
        except Exception as exc:  # the last answer stays shown, with its age; the next call tries again
            with self._lock:
                if self._generation.get(key, 0) == generation:  # not a read from before a clear()
                    self._failures[key] = f"{type(exc).__name__}: {exc}"
        finally:
            with self._lock:
                self._reading.discard(key)
