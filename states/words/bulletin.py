"""The words of the monthly bulletin (月通报), the progress bulletin (整改情况通报) and the quarterly interview
list (季度约谈名单): the three documents that name the parties and chiefs behind on their work.

The figures are worded by the key the figures' modules count them under (``workflow.reading.figures.FIGURES``
for the monthly bulletin, ``workflow.reading.practice.FIGURES`` for the progress bulletin); the Chinese is the
label those modules give, word for word.
"""

WORDS: dict[str, tuple[str, str]] = {
    # -- the monthly bulletin ---------------------------------------------------------------------------
    "bulletin.title": (
        "跨界问题整改情况通报（{month}）",
        "Bulletin on the rectification of cross-border issues ({month})",
    ),
    "bulletin.subject": ("{compact} {month} 月通报", "{compact} monthly bulletin, {month}"),
    "bulletin.keyword": ("月通报", "monthly bulletin"),
    "bulletin.filed_as": ("{code} {period} 月通报", "{code} {period} monthly bulletin"),
    "bulletin.intro": (
        "现将{compact}跨界问题{month}办理情况通报如下。",
        "The handling of the cross-border issues of {compact} in {month} is reported as follows.",
    ),
    "bulletin.heading.figures": ("一、本月及本年累计情况", "1. This month and the year to date"),
    "bulletin.col.item": ("事项", "Item"),
    "bulletin.col.month": ("本月", "This month"),
    "bulletin.year_to_date": ("本年累计", "Year to date"),
    "bulletin.overdue_issues": ("超期事项", "Overdue"),
    "bulletin.chart.month": ("本月办理情况", "Handled this month"),
    "bulletin.heading.overdue": ("二、超期单位", "2. Parties past their deadlines"),
    "bulletin.overdue_named": (
        "以下单位存在超过办理时限未办结的跨界问题，予以通报：",
        "The following parties have cross-border issues still open past their deadlines, and are named here:",
    ),
    "bulletin.no_overdue": ("本月无超期单位。", "No party was past its deadline this month."),
    "bulletin.overdue_actions": ("逾期未办结的督办事项", "Action items still open past their due date"),
    "bulletin.heading.patrols": ("三、巡河与联合执法", "3. Patrols and joint enforcement"),
    "bulletin.patrols": (
        "本月纳入巡河考核河长{assessed}名，应巡河{required}次，实际巡河{done}次，完成率{rate}。",
        "This month {assessed} river chiefs were assessed on their patrols: {required} patrols required, "
        "{done} made, a completion rate of {rate}.",
    ),
    "bulletin.no_patrols": ("本月无纳入巡河考核的河长。", "No river chief was assessed on patrols this month."),
    "bulletin.enforcement": (
        "本月联合查处涉河涉水问题{joint_cases}件，移送公益诉讼线索{leads_transferred}件。",
        "This month {joint_cases} river and water cases were investigated jointly, and {leads_transferred} leads "
        "were referred for public-interest litigation.",
    ),
    "bulletin.under_quota": (
        "以下河长未完成巡河任务，予以通报：",
        "The following river chiefs made fewer patrols than required, and are named here:",
    ),
    "bulletin.all_patrolled": (
        "本月纳入考核的河长均完成巡河任务。",
        "Every river chief assessed this month made the required patrols.",
    ),
    "bulletin.col.window": ("考核期", "Period"),
    "bulletin.col.required": ("应巡", "Required"),
    "bulletin.col.done": ("实巡", "Made"),
    "bulletin.col.rate": ("完成率", "Rate"),
    # -- what the three documents share ------------------------------------------------------------------
    "bulletin.col.party": ("单位", "Party"),
    "bulletin.col.chiefs": ("河长", "River chiefs"),
    "bulletin.col.chief": ("河长", "River chief"),
    "bulletin.col.overdue": ("超期问题", "Overdue issues"),
    "bulletin.col.code": ("编号", "Code"),
    "bulletin.col.action": ("事项", "Action item"),
    "bulletin.col.owner": ("责任单位", "Owner"),
    "bulletin.col.due": ("完成时限", "Due"),
    "bulletin.more_issues": ("等共 {count} 件", "({count} in all)"),
    "bulletin.party.coordinator": ("联席会议", "Joint meeting"),
    "bulletin.party.auditor": ("第三方回访机构", "Third-party auditor"),
    "bulletin.signed_by": ("{compact}联席会议办公室", "Office of the {compact} joint meeting"),
    # The monthly bulletin's figures (workflow.reading.figures.FIGURES).
    "bulletin.figure.handed_over": ("问题交办", "Handed over"),
    "bulletin.figure.accepted": ("受理", "Accepted"),
    "bulletin.figure.disputed": ("提出异议", "Disputed"),
    "bulletin.figure.negotiated": ("难点商办", "Negotiated"),
    "bulletin.figure.joint_meetings": ("卡点会办", "Taken to a joint meeting"),
    "bulletin.figure.dispatched": ("河长调度", "Dispatched by a river chief"),
    "bulletin.figure.rectified": ("整改完成", "Rectified"),
    "bulletin.figure.verified": ("复核验收", "Verified"),
    "bulletin.figure.closed": ("销号", "Closed"),
    "bulletin.figure.revisits": ("回头看", "Revisited"),
    "bulletin.figure.rebounds": ("反弹", "Rebounds"),
    "bulletin.figure.archived": ("归档", "Archived"),
    # -- the progress bulletin ---------------------------------------------------------------------------
    "progress.title": ("跨界问题整改情况通报", "Bulletin on the rectification of cross-border issues"),
    "progress.subject": ("{compact} {span} 整改情况通报", "{compact} rectification bulletin, {span}"),
    "progress.keyword.bulletin": ("通报", "bulletin"),
    "progress.keyword.rectification": ("整改情况", "rectification"),
    "progress.filed_as": ("{number} 整改情况通报", "{number} rectification bulletin"),
    "progress.intro": (
        "现将{compact}{span}跨界问题整改情况通报如下。",
        "The rectification of the cross-border issues of {compact} from {span} is reported as follows.",
    ),
    "progress.heading.overview": ("一、总体情况", "1. Overview"),
    "progress.col.count": ("数量", "Count"),
    "progress.meetings_by_level": ("联席会议（按层级）", "Joint meetings by level"),
    "progress.meetings_at_level": ("{level}{count}次", "{count} at {level} level"),
    "progress.meetings_separator": ("，", ", "),
    "progress.no_overdue": ("本期无超期单位。", "No party was past its deadline in this period."),
    "progress.heading.overdue_actions": (
        "三、逾期未办结的督办事项",
        "3. Action items still open past their due date",
    ),
    "progress.no_overdue_actions": ("无逾期督办事项。", "No action item is past its due date."),
    # The progress bulletin's figures (workflow.reading.practice.FIGURES; the monthly bulletins' count is not shown).
    "progress.figure.boundary_chiefs": ("边界河长", "Boundary river chiefs"),
    "progress.figure.swap_patrols": ("交叉互换巡河", "Swapped patrols"),
    "progress.figure.patrols": ("巡河", "Patrols"),
    "progress.figure.covert_inspections": ("暗访巡查", "Covert inspections"),
    "progress.figure.patrol_issues": ("巡河上报问题", "Issues found on patrol"),
    "progress.figure.handed_over": ("移交问题", "Issues handed over"),
    "progress.figure.accepted": ("受理", "Accepted"),
    "progress.figure.disputed": ("提出异议", "Disputed"),
    "progress.figure.negotiated": ("难点商办", "Negotiated"),
    "progress.figure.dispatched": ("河长调度", "Dispatched by a river chief"),
    "progress.figure.rectified": ("整改到位", "Rectified"),
    "progress.figure.closed": ("销号", "Closed"),
    "progress.figure.closed_without_rebound": ("一次性销号未反弹", "Closed at once, no rebound"),
    "progress.figure.rebounds": ("反弹", "Rebounds"),
    "progress.figure.joint_cases": ("联合查处", "Joint enforcement cases"),
    "progress.figure.leads_transferred": ("移送公益诉讼线索", "Public-interest litigation leads referred"),
    "progress.figure.joint_meetings": ("联席会议", "Joint meetings"),
    "progress.figure.progress_bulletins": ("通报整改情况", "Rectification bulletins"),
    "progress.figure.action_items_open": ("督办事项未办结", "Action items open"),
    "progress.figure.action_items_overdue": ("督办事项逾期", "Action items overdue"),
    "progress.figure.revisits": ("回头看", "Revisits"),
    "progress.figure.revisit_reports": ("回访报告", "Revisit reports"),
    "progress.figure.monthly_bulletins": ("月通报", "Monthly bulletins"),
    # -- the quarterly interview list ----------------------------------------------------------------------
    "interview.title": (
        "跨界问题季度约谈名单（{quarter}）",
        "Quarterly interview list on cross-border issues ({quarter})",
    ),
    "interview.subject": ("{compact} {quarter} 约谈名单", "{compact} interview list, {quarter}"),
    "interview.keyword": ("季约谈", "quarterly interview"),
    "interview.filed_as": ("{code} {period} 季度约谈名单", "{code} {period} quarterly interview list"),
    "interview.number_kind": ("约谈", "interview"),
    "interview.quarter.1": ("{year}年第一季度", "Q1 {year}"),
    "interview.quarter.2": ("{year}年第二季度", "Q2 {year}"),
    "interview.quarter.3": ("{year}年第三季度", "Q3 {year}"),
    "interview.quarter.4": ("{year}年第四季度", "Q4 {year}"),
    "interview.intro": (
        "根据{compact}月通报和巡河考核情况，{quarter}（{months}）连续三个月存在以下情形的单位和河长，列入季度约谈名单。",
        "Based on the monthly bulletins of {compact} and the patrol assessments, the parties and river chiefs "
        "below, found in one of the following situations in each of the three months of {quarter} ({months}), "
        "are placed on the quarterly interview list.",
    ),
    "interview.heading.overdue": ("一、跨界问题连续三个月超期", "1. Cross-border issues overdue three months running"),
    "interview.heading.patrols": (
        "二、连续三个月未完成巡河任务",
        "2. Fewer patrols than required three months running",
    ),
    "interview.col.months": ("各月巡河（实巡/应巡）", "Patrols by month (made/required)"),
    "interview.month_patrols": ("{month}：{done}/{required}", "{month}: {done}/{required}"),
    "interview.month_separator": ("；", "; "),
    "interview.none": ("无。", "None."),
}
