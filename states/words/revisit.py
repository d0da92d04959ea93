"""The revisit report's words (回访报告)."""

WORDS: dict[str, tuple[str, str]] = {
    # The document: its title, metadata and the name it is filed under.
    "revisit.title": ("跨界问题“回头看”回访报告", "Revisit report on closed cross-border issues"),
    "revisit.named": ("{compact} {period} 回访报告", "{compact} revisit report, {period}"),
    "revisit.named_span": ("{compact} {first} 至 {last} 回访报告", "{compact} revisit report, {first} to {last}"),
    "revisit.keyword.look_back": ("回头看", "revisit"),
    "revisit.keyword.report": ("回访报告", "revisit report"),
    # The opening paragraph and the signature.
    "revisit.intro": (
        "受{compact}委托，{auditors}于{period}对已销号的跨界交办问题开展“回头看”，"
        "共回访 {count} 个问题，其中未反弹 {clean} 个，反弹 {rebounds} 个。",
        "At the request of {compact}, {auditors} revisited closed cross-border issues ({period}) to check that "
        "the problems have not returned. Issues revisited: {count}; no rebound: {clean}; rebound: {rebounds}.",
    ),
    "revisit.auditors_unnamed": ("第三方回访机构", "the third-party auditor"),
    "revisit.signed_unnamed": ("第三方回访机构", "Third-party auditor"),
    # 回访情况
    "revisit.revisits": ("回访情况", "Revisits"),
    "revisit.col.code": ("编号", "Issue no."),
    "revisit.col.issue": ("问题", "Issue"),
    "revisit.col.finding": ("回访情况", "Finding"),
    "revisit.col.outcome": ("结论", "Outcome"),
    "revisit.col.auditor": ("回访人 / 日期", "Auditor / date"),
    "revisit.rebound": ("反弹", "Rebound"),
    "revisit.no_rebound": ("未反弹", "No rebound"),
    "revisit.none": ("本期无回访记录。", "No revisit was recorded in this period."),
    # 现场照片
    "revisit.photos": ("现场照片", "Site photos"),
    "revisit.photo.taken_at": ("拍摄于 {at}", "Taken {at}"),
    "revisit.photo.no_time": ("无拍摄时间", "Time not recorded"),
    "revisit.photo.no_place": ("无拍摄位置", "Place not recorded"),
    "revisit.photo.neither": ("照片无拍摄时间/位置", "Time and place of the photo not recorded"),
}
