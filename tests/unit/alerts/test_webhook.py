"""The webhook against a real HTTP server on 127.0.0.1: v4 payload, retries, bounded time."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

from shopstream.alerts.webhook import AlertEvent, send

T0 = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)


class _Receiver(BaseHTTPRequestHandler):
    bodies: ClassVar[list[Any]] = []
    fail_first = 0
    delay = 0.0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        time.sleep(type(self).delay)
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(500)
        else:
            type(self).bodies.append(body)
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _serve(fail_first: int = 0, delay: float = 0.0) -> tuple[HTTPServer, type[_Receiver]]:
    handler = type("R", (_Receiver,), {"bodies": [], "fail_first": fail_first, "delay": delay})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler


def _event(firing: bool) -> AlertEvent:
    return AlertEvent("CheckoutOutage", firing, T0, None if firing else T0, 500.0, 0.0, 1e-30)


def test_posts_a_v4_payload_and_retries_after_a_5xx() -> None:
    server, handler = _serve(fail_first=1)
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        t = send(url, [_event(True)], timeout=2.0, retries=2)
        assert t is not None
        t.join(10)
        (body,) = handler.bodies
        assert body["version"] == "4" and body["status"] == "firing"
        (alert,) = body["alerts"]
        assert alert["labels"]["alertname"] == "CheckoutOutage"
        assert alert["startsAt"] == "2026-12-02T14:00:00Z"
        assert alert["endsAt"] == "0001-01-01T00:00:00Z"
        t = send(url, [_event(False)], timeout=2.0, retries=0)
        assert t is not None
        t.join(10)
        assert handler.bodies[1]["status"] == "resolved"
        assert handler.bodies[1]["alerts"][0]["endsAt"] == "2026-12-02T14:00:00Z"
    finally:
        server.shutdown()


def test_send_returns_at_once_and_gives_up_on_a_slow_receiver() -> None:
    server, _ = _serve(delay=1.5)
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        t = send(url, [_event(True)], timeout=0.3, retries=1)
        assert t is not None and t.is_alive()  # the caller did not wait for the POST
        t.join(10)
        assert not t.is_alive()  # bounded: 2 attempts of 0.3 s plus back-off
    finally:
        server.shutdown()


def test_nothing_is_sent_without_a_url() -> None:
    assert send(None, [_event(True)], timeout=1.0, retries=0) is None
