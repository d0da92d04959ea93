"""The notices' names: what a message's subject calls the kind of notice it is."""

WORDS: dict[str, tuple[str, str]] = {
    "notice.reminder": ("办理提醒", "reminder"),
    "notice.overdue": ("超期提醒", "overdue"),
    "notice.revisit_due": ("回头看到期", "revisit due"),
    "notice.revisit_overdue": ("回头看逾期", "revisit overdue"),
    "notice.bulletin": ("月通报", "monthly bulletin"),
    "notice.interview": ("季度约谈名单", "quarterly interview list"),
    "notice.meeting_invited": ("联席会议通知", "joint meeting invitation"),
    "notice.meeting_changed": ("联席会议变更", "joint meeting moved"),
    "notice.meeting_cancelled": ("联席会议取消", "joint meeting cancelled"),
    "notice.meeting_reminder": ("联席会议提醒", "joint meeting tomorrow"),
    "notice.action_assigned": ("督办事项", "action item"),
    "notice.action_reminder": ("督办事项到期提醒", "action item due soon"),
    "notice.action_overdue": ("督办事项逾期", "action item overdue"),
    "notice.calendar_unknown": ("节假日安排缺失", "holiday arrangement missing"),
    # -- the frame every message is laid out in (its kind's own sentences are in its template for each language)
    "notice.frame.dear": ("{name}，您好：", "Dear {name},"),
    "notice.frame.field": ("{label}：{value}", "{label}: {value}"),
    "notice.frame.issue_code": ("问题编号", "Issue no."),
    "notice.frame.issue": ("问题", "Issue"),
    "notice.frame.reporting": ("交办方", "Reporting side"),
    "notice.frame.receiving": ("接收方", "Receiving side"),
    "notice.frame.sides": ("交办方：{reporting} → 接收方：{receiving}", "From: {reporting} → To: {receiving}"),
    "notice.frame.state_now": ("当前状态", "State"),
    "notice.frame.state": ("状态", "State"),
    "notice.frame.due": ("办理时限", "Deadline"),
    "notice.frame.due_short": ("时限", "Deadline"),
    "notice.frame.handled_by": ("经办", "Handled by"),
    "notice.frame.handled": ("{name}（{when}）", "{name} ({when})"),
    "notice.frame.details": ("查看详情", "Details"),
    "notice.frame.footer": (
        "——琼江流域河长制跨界协作平台（系统消息，请勿直接回复）",
        "-- Qiongjiang cross-border river chief platform (automatic message)",
    ),
    "notice.frame.signature": (
        "琼江流域河长制跨界协作平台 · 系统消息，请勿直接回复",
        "Qiongjiang cross-border river chief platform · automatic message, please do not reply",
    ),
    # a jurisdiction named in a step, with its division code
    "notice.place_with_code": ("{name}（{code}）", "{name} ({code})"),
    # a kind not named above (a newer sender than this catalogue): never said by its code
    "notice.other": ("通知", "notice"),
}
