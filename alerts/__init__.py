"""Alerts: what the bot tells its user when something important happens, through apprise.

`events` decides which records of the journal raise an alert (and its text); `sender` delivers them
from the journal's alert table on a thread of its own, with retries, never blocking or failing the
trading loop. The notification URLs are secrets: from the environment (TB_ALERT_URLS) or config.yaml,
never logged, stored in Redis or shown."""
