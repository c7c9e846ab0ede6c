"""The dashboard's views: pure formatting (status, tables, summaries, charts) and Streamlit panels.

Imports settings, state, models and control.client only: the dashboard never reaches the engine,
the executors or a venue. It reads state from Redis and writes commands to Redis.
"""
