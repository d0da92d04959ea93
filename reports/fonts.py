"""A Simplified Chinese font must be present before any PDF is made: never a page of tofu boxes."""

from __future__ import annotations

import shutil
import subprocess

FONT_FAMILY = "Noto Sans CJK SC"
FONT_PACKAGE = "fonts-noto-cjk"


class MissingFont(RuntimeError):
    """No Simplified Chinese font is installed."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"no Simplified Chinese font found ({detail}); install the Debian package {FONT_PACKAGE} "
            f"(`apt-get install {FONT_PACKAGE}`, or run `make setup`) before rendering reports"
        )


def check_cjk_font() -> str:
    """The family that will render Chinese text, or MissingFont naming the package to install."""
    if shutil.which("fc-list") is None:
        raise MissingFont("fontconfig's fc-list is not available")
    listed = subprocess.run(
        ["fc-list", ":lang=zh-cn", "family"], capture_output=True, text=True, check=False, timeout=30
    ).stdout
    families = {name.strip() for line in listed.splitlines() for name in line.split(",")}
    if FONT_FAMILY in families:
        return FONT_FAMILY
    if families - {""}:
        return sorted(families - {""})[0]
    raise MissingFont("fc-list :lang=zh-cn lists nothing")
