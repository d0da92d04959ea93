"""The monthly bulletin's and the progress bulletin's words (月通报, 进展通报)."""

WORDS: dict[str, tuple[str, str]] = {}
