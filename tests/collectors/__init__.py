"""Collector tests: each platform against its replayed API."""
