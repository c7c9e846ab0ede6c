"""A view that fails shows one clear line, never a traceback, and the rest of the page lives on."""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable

import streamlit as st

from errors import StateStoreError

log = logging.getLogger(__name__)


def guarded(what: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Redis trouble or a malformed record becomes an st.error naming the panel; the full traceback goes
    to the server log. (Streamlit's rerun/stop are BaseExceptions and pass through untouched.)"""

    def decorate(view: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> None:
            try:
                view(*args, **kwargs)
            except StateStoreError as exc:
                st.error(f"{what}: {exc}", icon=":material/cloud_off:")
            except Exception as exc:
                log.exception("%s could not be shown", what)
                st.error(f"{what}: could not be shown ({type(exc).__name__}: {exc})")

        return wrapper

    return decorate
