"""The WSGI entry point: `gunicorn 'archiver.wsgi:create()'` (deploy/gunicorn.conf.py).

An entry point, so it alone reads the environment (ARCHIVER_HOME, ARCHIVER_*); importing
it does nothing, gunicorn calls `create()` once in each worker after forking, so no
database connection or S3 client is shared between processes.
"""

from __future__ import annotations

from flask import Flask

from archiver.api import create_app
from archiver.config import load_settings


def create() -> Flask:
    """Settings from the environment and `$ARCHIVER_HOME/archiver.toml`; the app over them."""
    return create_app(load_settings())
