"""The follow-up report's words (跨界问题跟踪报告)."""

WORDS: dict[str, tuple[str, str]] = {}
