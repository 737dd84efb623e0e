"""Alerts under test: a local SMTP server (aiosmtpd on 127.0.0.1) catching the emails, the
replay server standing in for webhook receivers, an archive configured to use both."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest

from archiver.wiring import Archive
from tests.api.conftest import app, client, tokens  # noqa: F401 - the API suite's fixtures
from tests.collectors.e2e_support import local_backend  # noqa: F401 - backend_env: local

WEBHOOK_SECRET = "hook-secret-for-tests"


class Mailbox:
    """What the SMTP server received: (envelope recipients, parsed message)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    from aiosmtpd.controller import Controller

    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def archive(make_archive: Callable[..., Archive], mailbox: tuple[Mailbox, int]) -> Archive:
    return make_archive(ARCHIVER_ALERTS_SMTP_HOST="127.0.0.1",
                        ARCHIVER_ALERTS_SMTP_PORT=str(mailbox[1]),
                        ARCHIVER_ALERTS_SMTP_FROM="archive@city.example",
                        ARCHIVER_ALERTS_WEBHOOK_SECRET=WEBHOOK_SECRET,
                        ARCHIVER_ALERTS_WEBHOOK_RETRIES="2")
