"""The revisit report's words (回访报告)."""

WORDS: dict[str, tuple[str, str]] = {}
