"""Executors: ghost, paper (and live in a later wave), behind one protocol."""
