"""gunicorn settings for the archiver API: `gunicorn -c deploy/gunicorn.conf.py`.

Environment (all optional):
  ARCHIVER_BIND      address to listen on            (default 127.0.0.1:8080)
  ARCHIVER_WORKERS   worker processes, clamped to 2-4 (default: CPUs, within 2-4)
  ARCHIVER_THREADS   threads per worker              (default 4)
  ARCHIVER_TIMEOUT   seconds before a stuck worker is restarted (default 120)
plus the archive's own ARCHIVER_HOME / ARCHIVER_* settings, read by archiver.wsgi.

Workers are separate processes, each with its own catalog pool and store client; the
log's single writer is enforced by the catalog's lock, not by gunicorn. The app is NOT
preloaded: connections opened before fork would be shared between workers. Instead the
master opens the archive once before forking (`on_starting`): that runs the catalog's
Alembic migrations and crash recovery a single time, so workers never race to migrate,
and a bad configuration stops the service at start with the reason in the log.
"""

import os

wsgi_app = "archiver.wsgi:create()"

bind = [os.environ.get("ARCHIVER_BIND", "127.0.0.1:8080")]
workers = min(4, max(2, int(os.environ.get("ARCHIVER_WORKERS", os.cpu_count() or 2))))
worker_class = "gthread"  # reads wait on the store and catalog: threads overlap that wait
threads = max(1, int(os.environ.get("ARCHIVER_THREADS", "4")))
preload_app = False
control_socket_disable = True  # no gunicornc socket: several instances may share a home dir

timeout = int(os.environ.get("ARCHIVER_TIMEOUT", "120"))  # a large ingest batch to S3 takes a while
graceful_timeout = 30
keepalive = 5

# Requests larger than this are refused before the app sees them; the body limit itself
# is the app's ([api] max_body_bytes, a 413 with the error body).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# Access log on stdout: no headers at all, so no Authorization value can reach it.
# Fields: remote address, request line (path and query), status, bytes, duration in ms.
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = os.environ.get("ARCHIVER_LOG_LEVEL", "info")
capture_output = True
proc_name = "archiver-api"


def on_starting(server):  # noqa: ANN001, ANN201 - gunicorn's hook signature
    """Migrate and recover once, in the master, then let go of every connection."""
    from archiver.config import load_settings
    from archiver.wiring import open_archive

    archive = open_archive(load_settings())
    archive.close()
    server.log.info("archive opened, catalog migrated, ready to fork workers")
