"""Security headers on every response, and the client's address as the trusted proxies tell it.

Pages get a Content-Security-Policy that runs only the site's own script files (no inline script, no
``on…=`` handler), loads nothing from elsewhere (but the shared map's tiles, on that page, when a tile service
is configured) and may not be framed. The API's JSON and every other non-HTML answer get
``default-src 'none'``: nothing in them is meant to run. The docs page (Swagger UI,
``/api/docs``) is the one page built from assets on another host and an inline script that FastAPI writes;
its policy is drawn from the page itself: exactly the script and stylesheet URLs it names, its inline
script by SHA-256 hash, inline styles (Swagger UI sets them), and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def page_policy(image_hosts: Sequence[str] = ()) -> str:
    """A page's policy; ``image_hosts`` are the origins a page may show images from besides its own (map tiles)."""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            # The templates still carry a few style="" attributes; no script can be injected through them.
            "style-src 'self' 'unsafe-inline'",
            # blob: for the report form's previews of the photos being sent
            " ".join(("img-src 'self' data: blob:", *image_hosts)),
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


PAGE_POLICY = page_policy()
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"
COMMON = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Issue codes are in our URLs: other sites are not told which page a link was followed from.
    "Referrer-Policy": "same-origin",
}

_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL | re.IGNORECASE)
_SCRIPT_SRC = re.compile(rb"<script[^>]*\ssrc=\"([^\"]+)\"", re.IGNORECASE)
_STYLESHEET = re.compile(rb"<link[^>]*rel=\"stylesheet\"[^>]*href=\"([^\"]+)\"", re.IGNORECASE)
_ICON = re.compile(rb"<link[^>]*rel=\"[^\"]*icon\"[^>]*href=\"([^\"]+)\"", re.IGNORECASE)


def docs_policy(page: bytes) -> str:
    """The policy for a docs page: what it names, and its inline scripts by hash."""

    def sources(pattern: re.Pattern[bytes]) -> list[str]:
        found = [url.decode() for url in pattern.findall(page)]
        return ["'self'" if not urlsplit(url).netloc else url for url in found]

    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(page)
    ]
    icons = [url if url == "'self'" else "{0.scheme}://{0.netloc}".format(urlsplit(url)) for url in sources(_ICON)]
    return "; ".join(
        (
            "default-src 'none'",
            " ".join(["script-src", *sources(_SCRIPT_SRC), *hashes]),
            " ".join(["style-src 'self' 'unsafe-inline'", *sources(_STYLESHEET)]),
            " ".join(["img-src 'self' data:", *icons]),
            "connect-src 'self'",  # the OpenAPI document and "Try it out"
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response, without replacing any a route set."""

    def __init__(self, app: ASGIApp, *, docs_paths: Iterable[str | None] = ()) -> None:
        self.app = app
        self.docs_paths = frozenset(path for path in docs_paths if path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] in self.docs_paths:
            await self._docs(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                _add(headers, PAGE_POLICY if _is_html(headers) else DATA_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The policy depends on the page, so the (small) page is held until it is whole.
        start: Message | None = None
        body: list[bytes] = []

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            assert start is not None
            page = b"".join(body)
            headers = MutableHeaders(scope=start)
            _add(headers, docs_policy(page) if _is_html(headers) else DATA_POLICY)
            await send(start)
            await send({"type": "http.response.body", "body": page, "more_body": False})

        await self.app(scope, receive, hold)


def _is_html(headers: MutableHeaders) -> bool:
    return headers.get("content-type", "").startswith("text/html")


def _add(headers: MutableHeaders, policy: str) -> None:
    for name, value in {**COMMON, "Content-Security-Policy": policy}.items():
        if name not in headers:
            headers[name] = value


# -- the client's address ------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """The networks of the configured trusted proxies (addresses or CIDR ranges)."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: Request, trusted_proxies: Sequence[str]) -> str | None:
    """The address a request came from: the peer, unless the peer is a trusted proxy.

    Behind trusted proxies, ``X-Forwarded-For`` is read from the right (each proxy appends the address
    it was called from) and the first hop that is not itself a trusted proxy is the client. Anything a
    client wrote further left is its own claim and is ignored; from an untrusted peer the header is
    ignored altogether, whoever sends it, loopback included.
    """
    peer = request.client.host if request.client else None
    networks = trusted_networks(tuple(trusted_proxies))
    if peer is None or not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for header in request.headers.getlist("x-forwarded-for") for hop in header.split(",")]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a trusted proxy would not write that: keep the last address it vouched for
        peer = hop
    return peer
