"""What stands behind `exchange_client`'s door: one module per venue, plus the ccxt error map and parsing.

Nothing above `exchange_client` imports from here directly except tests and assembly code that must pick
a concrete venue (the backtest builds an in-memory `SimVenueClient`)."""
