"""The four tabs in their order; each body runs inside an auto-refreshing fragment when its tab is open."""

from __future__ import annotations

from typing import Callable

from settings import Settings
from state import StateStore
from ui.account_tab import render_account
from ui.ghost_tab import render_ghost
from ui.live_tab import render_live
from ui.paper_tab import render_paper

TAB_NAMES = ("Account", "Paper", "Ghost", "Live")

TAB_VIEWS: tuple[Callable[[StateStore, Settings], None], ...] = (render_account, render_paper, render_ghost,
                                                                  render_live)
