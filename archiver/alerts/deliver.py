"""Sending an alert: email over SMTP ([alerts] smtp_*) and a JSON POST to each webhook,
signed with HMAC-SHA256 of the body (`X-Archiver-Signature: sha256=<hex>`, keyed by
[alerts] webhook_secret) and retried with backoff. A failed channel is recorded with the
alert, never raised: one unreachable receiver must not stop the others."""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import httpx

from archiver.config import AlertSettings

SIGNATURE_HEADER = "X-Archiver-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def alert_document(alert_id: int, kind: str, subject: str, details: dict[str, Any]
                   ) -> dict[str, Any]:
    return {"alert": alert_id, "kind": kind, "subject": subject, "details": details}


def send_email(settings: AlertSettings, to: list[str], doc: dict[str, Any]) -> dict[str, Any]:
    msg = EmailMessage()
    msg["From"] = settings.smtp_from or f"archiver@{settings.smtp_host}"
    msg["To"] = ", ".join(to)
    msg["Subject"] = doc["subject"][:900]
    msg.set_content(json.dumps(doc, ensure_ascii=False, indent=2))
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=15) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        return {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"[:500]}
    return {"ok": True}


def send_webhook(settings: AlertSettings, url: str, doc: dict[str, Any], *,
                 sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    body = json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()
    headers = {"Content-Type": "application/json"}
    if settings.webhook_secret:
        headers[SIGNATURE_HEADER] = sign(settings.webhook_secret, body)
    error = ""
    attempts = 0
    for attempts in range(1, settings.webhook_retries + 2):
        try:
            r = httpx.post(url, content=body, headers=headers, timeout=10)
            if r.status_code < 300:
                return {"ok": True, "attempts": attempts, "status": r.status_code}
            error = f"HTTP {r.status_code}"
            if 400 <= r.status_code < 500 and r.status_code not in (408, 429):
                break  # the receiver refuses this alert: another try is refused too
        except httpx.HTTPError as exc:
            error = exc.__class__.__name__
        if attempts <= settings.webhook_retries:
            sleep(min(30.0, 0.5 * 2 ** (attempts - 1)))
    return {"ok": False, "attempts": attempts, "error": error}


def deliver(settings: AlertSettings, alert_id: int, kind: str, subject: str,
            details: dict[str, Any], channels: dict[str, list[str]],
            sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Each channel's outcome, keyed `email` and `webhook <url>`."""
    doc = alert_document(alert_id, kind, subject, details)
    out: dict[str, Any] = {}
    if channels.get("email"):
        out["email"] = send_email(settings, channels["email"], doc)
    for url in channels.get("webhook", []):
        out[f"webhook {url}"] = send_webhook(settings, url, doc, sleep=sleep)
    return out
