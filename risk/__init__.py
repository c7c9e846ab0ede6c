"""Risk: levels, sizing, stops, hard limits, the pre-trade gate and the risk monitor.

Pure functions over models and settings types: no I/O, no clock of its own (times are passed in).
"""
