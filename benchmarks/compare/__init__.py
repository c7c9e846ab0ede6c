"""backtrader and nautilus_trader on the EMA comparison rules, in bench-only venvs (run.py)."""
