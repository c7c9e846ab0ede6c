"""Analytics: performance metrics over closed trades and equity curves. Pure functions over models."""
