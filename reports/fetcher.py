"""The only resources a report may load: the package's own assets and stored attachments.

Everything else is refused before any I/O: http(s), ftp, data: URLs, and
files outside the two folders (``file:///etc/passwd``, ``../``, symlinks
pointing out). A refusal does not stop the rendering; the resource is
simply missing from the PDF.
"""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit

from weasyprint.urls import URLFetcher, URLFetcherResponse

log = logging.getLogger(__name__)

ASSETS = Path(__file__).with_name("assets").resolve()
ASSET_SCHEME = "rc-asset"
ATTACHMENT_SCHEME = "rc-attachment"


def _sniff(body: bytes) -> str:
    from workflow.core.evidence import sniff

    return sniff(body) or "application/octet-stream"


class RefusedResource(ValueError):
    """A report tried to load something it may not."""


class SafeFetcher(URLFetcher):  # type: ignore[misc]
    """Serves ``rc-asset:/name`` from the assets folder and ``rc-attachment:/sha256`` from the attachment store."""

    def __init__(self, attachments: Path | None = None) -> None:
        super().__init__(allowed_protocols=(), allow_redirects=False, timeout=1)
        self.attachments = attachments.resolve() if attachments else None
        self.refused: list[str] = []

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:  # noqa: ARG002
        """Open an allowed local file, or refuse."""
        path = self._resolve(url)
        if path is None:
            self.refused.append(url)
            log.warning("report resource refused: %.200s", url)
            raise RefusedResource(f"resource not allowed in reports: {url[:200]}")
        body = path.read_bytes()
        # Stored attachments have no extension: their type comes from their content.
        content_type = mimetypes.guess_type(path.name)[0] or _sniff(body)
        return URLFetcherResponse(path.as_uri(), body, {"Content-Type": content_type})

    def _resolve(self, url: str) -> Path | None:
        parts = urlsplit(url)
        if parts.scheme == ASSET_SCHEME:
            root: Path | None = ASSETS
        elif parts.scheme == ATTACHMENT_SCHEME:
            root = self.attachments
        else:
            return None
        if root is None:
            return None
        candidate = (root / unquote(parts.path).lstrip("/")).resolve()
        if not candidate.is_file() or not candidate.is_relative_to(root):
            return None
        return candidate
