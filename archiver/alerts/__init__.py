"""Alerts: rules over what the archive captures and how collection goes, delivered by email
and signed webhooks, listed in the API and the web interface.

`rules` validates rules (patterns compiled with a time limit), `evaluate` follows the log
and the collectors' alerts from stored positions, `deliver` sends, `worker` runs the
evaluation off the writer's path after each ingest turn.
"""
