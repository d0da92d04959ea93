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
    # a jurisdiction named in a step, with its division code
    "notice.place_with_code": ("{name}（{code}）", "{name} ({code})"),
    # a kind not named above (a newer sender than this catalogue): never said by its code
    "notice.other": ("通知", "notice"),
}
