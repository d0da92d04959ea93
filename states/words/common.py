"""Words every report shares: the frame of the page, the figures, dates, levels and lists."""

WORDS: dict[str, tuple[str, str]] = {
    "common.generated_at": ("生成于 {at}", "Generated {at}"),
    "common.generated_note": (
        "本文件由系统根据台账生成，生成时间 {at}（北京时间）。",
        "This document was generated from the ledger at {at} (Beijing time).",
    ),
    "common.month": ("{year}年{month}月", "{month_name} {year}"),
    "common.day": ("{year}年{month}月{day}日", "{day} {month_name} {year}"),
    "common.list_separator": ("、", ", "),
    "common.level.village": ("村级", "village"),
    "common.level.township": ("乡镇级", "township"),
    "common.level.district": ("区县级", "district"),
    "common.level.city": ("市级", "city"),
    "common.level.province": ("省级", "province"),
    "common.map.problem_here": ("问题位置", "Problem here"),
    "common.map.north": ("北", "N"),
    "common.seq": ("序号", "No."),  # a table's first column, sized by col.seq in report.css
    "common.system": ("系统", "the system"),
    "common.page_of": ("第 {page} 页 / 共 {pages} 页", "Page {page} of {pages}"),
    "common.full_stop": ("。", "."),
}
