"""A view that fails shows one clear line, never a traceback, and the rest of the page lives on."""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from typing import Any, Callable

import streamlit as st

from errors import StateStoreError

log = logging.getLogger(__name__)

# `python -m benchmarks.dashboard` sets this: each panel's render time, one line per run, to the file named
TIMINGS_ENV = "TB_DASHBOARD_TIMINGS"
_timings_lock = threading.Lock()


def record_timing(what: str, started: float) -> None:
    path = os.environ.get(TIMINGS_ENV)
    if not path:
        return
    line = f"{time.time():.3f} {what.replace(' ', '_')} {(time.perf_counter() - started) * 1000:.1f}\n"
    with _timings_lock, open(path, "a") as out:
        out.write(line)


def guarded(what: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Redis trouble or a malformed record becomes an st.error naming the panel; the full traceback goes
    to the server log. (Streamlit's rerun/stop are BaseExceptions and pass through untouched.)"""

    def decorate(view: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            started = time.perf_counter()
            try:
                view(*args, **kwargs)
            except StateStoreError as exc:
                st.error(f"{what}: {exc}", icon=":material/cloud_off:")
            except Exception as exc:
                log.exception("%s could not be shown", what)
                st.error(f"{what}: could not be shown ({type(exc).__name__}: {exc})")
            finally:
                record_timing(what, started)

        return wrapper

    return decorate
