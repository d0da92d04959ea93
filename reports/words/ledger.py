"""The ledger's words (台账), in the PDF and in the xlsx and CSV columns."""

WORDS: dict[str, tuple[str, str]] = {}
