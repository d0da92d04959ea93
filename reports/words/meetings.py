"""The joint meetings' words: minutes of a period and of one meeting, and the interview list (纪要, 约谈)."""

WORDS: dict[str, tuple[str, str]] = {}
