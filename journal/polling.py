"""A daemon thread that does one pass of work every few seconds and survives its own failures: the
journal's sync and the alert sender are both this, so neither can take the supervisor down."""

from __future__ import annotations

import logging
import threading


class PollingThread:
    """Subclasses define `poll_once()`; `start()` runs it now and then every `poll_seconds` until `stop()`.
    An exception is logged by `on_error` and the next pass tries again."""

    thread_name = "poller"

    def __init__(self, poll_seconds: float, log: logging.Logger):
        self.poll_seconds = poll_seconds
        self.log = log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> object:
        raise NotImplementedError

    def on_error(self, exc: Exception) -> None:
        self.log.exception("%s: unexpected error; the next pass tries again", self.thread_name)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self):
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            try:
                self.poll_once()
            except Exception as exc:  # never let the thread die: the next pass tries again
                self.on_error(exc)
            if self._stop.wait(self.poll_seconds):
                return
