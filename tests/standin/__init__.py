"""A local Binance USDⓈ-M stand-in: the one fake at the edge, so the real ccxt client runs end to end
without the internet. See binance_standin.py; pytest fixture in fixtures.py."""
