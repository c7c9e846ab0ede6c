"""The durable trade journal: every trade, signal, order, fill, denial, command and state change, kept on
disk in SQLite (standard library) under var/journal/, so history outlives Redis's stream caps and Redis.

`store.Journal` is the file; `sync.JournalSync` copies what the Redis streams hold into it, in batches, off
the trading loop (the supervisor runs it in a thread); `export` writes records out as CSV or Parquet."""
