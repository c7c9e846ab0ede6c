"""Assembly of a bot process or a backtest: settings, store, market data, venue, executor, engine wired together."""
