"""The words of the documents' titles, numbers and metadata, written by the builders."""

WORDS: dict[str, tuple[str, str]] = {
    "documents.number": ("{compact}联防{kind}〔{year}〕{serial}号", "{compact} joint {kind} No. {serial} ({year})"),
    "documents.number.followup": ("跟踪", "follow-up"),
    "documents.number.revisit": ("回访", "revisit"),
    "documents.number.bulletin": ("通报", "bulletin"),
    "documents.number.minutes": ("纪要", "minutes"),
    "documents.number.ledger": ("台账", "ledger"),
    "documents.span": ("{first}至{last}", "{first} to {last}"),
    "documents.day_in_year": ("{month}月{day}日", "{day}/{month}"),
    "documents.whole": ("全部", "all"),
    "documents.keyword.river_chiefs": ("河长制", "river chief system"),
}
