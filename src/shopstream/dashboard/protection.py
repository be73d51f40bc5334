"""What every dashboard response carries, and which requests it answers at all.

The dashboard listens on loopback, but a web page the user visits can still reach it: a
DNS-rebinding page resolves its own name to 127.0.0.1 and reads the API as same-origin.
So a request is answered only when its Host header names this server (loopback names, the
listen address, and `dashboard.allowed_hosts` for a deployment behind a proxy); anything
else gets 400 before any route runs. Every response also says what a browser may do with
it: scripts, styles and data from this origin only, no framing, no MIME sniffing, no
referrer. The API docs page (`/docs`) is FastAPI's Swagger UI, whose script and styles come
from its CDN: it alone gets a policy that allows them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.middleware.trustedhost import TrustedHostMiddleware

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from shopstream.config import DashboardSettings

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
_WILDCARDS = {"0.0.0.0", "::", ""}
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_CDN = "https://cdn.jsdelivr.net"
DOCS_POLICY = (
    f"default-src 'self'; script-src 'self' 'unsafe-inline' {_CDN}; "
    f"style-src 'self' {_CDN}; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"cross-origin-opener-policy": b"same-origin",
    b"cross-origin-resource-policy": b"same-origin",
}


def allowed_hosts(settings: DashboardSettings) -> list[str]:
    """Host names this dashboard answers to (Host header without its port).

    Examples:
        >>> from shopstream.config import DashboardSettings
        >>> allowed_hosts(DashboardSettings(allowed_hosts=["dash.example.com"]))
        ['127.0.0.1', 'localhost', '::1', '[::1]', 'dash.example.com']
    """
    hosts = list(LOOPBACK_NAMES)
    if settings.host not in _WILDCARDS and settings.host not in hosts:
        hosts.append(settings.host)
    hosts += [h for h in settings.allowed_hosts if h not in hosts]
    return hosts


class SecurityHeaders:
    """ASGI middleware adding the protective headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope.get("path", "") in ("/docs", "/redoc", "/docs/oauth2-redirect")
        policy = (DOCS_POLICY if docs else CONTENT_SECURITY_POLICY).encode()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k not in HEADERS]
                headers += [*HEADERS.items(), (b"content-security-policy", policy)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def protect(app: FastAPI, settings: DashboardSettings) -> None:
    """Refuse foreign Host headers (400) and add the protective headers to every response."""
    # Added last, so it runs first: a refused Host never reaches a route, and even the
    # refusal carries the headers.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(settings))
    app.add_middleware(SecurityHeaders)
