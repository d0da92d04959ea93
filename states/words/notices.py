"""The notices' words: what a message calls its kind of notice, what its subject and first sentence say for each
kind, and the frame every message is laid out in."""

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
    # -- each kind's subject and what it asks of its reader: one template per kind (notifications/templates/kinds)
    # lays these out for both languages
    "notice.subject.issue": ("【{tag}】{code} {title}", "[{tag}] {code} {title}"),
    "notice.default.ask": ("{label}。", "{label}."),
    "notice.default.ask_due": ("{label}。请在时限内办理。", "{label}. Please act before the deadline."),
    "notice.accept.tag": ("已受理", "Accepted"),
    "notice.accept.ask": (
        "{receiving}已受理交办问题，将制定整改方案。",
        "{receiving} has accepted the issue and will draw up a rectification plan.",
    ),
    "notice.agree.tag": ("商办一致", "Agreed"),
    "notice.agree.ask": (
        "商办达成一致：{resolution}。整改方案：{plan}，{deadline} 前完成。",
        "The two sides agreed: {resolution}. Rectification plan: {plan}, to be finished by {deadline}.",
    ),
    "notice.archive.tag": ("归档", "Archived"),
    "notice.archive.ask": ("问题回头看未反弹，已归档。", "The revisit found no rebound; the issue is archived."),
    "notice.close.tag": ("销号", "Closed"),
    "notice.close.ask": (
        "问题经双方复核签认，已清单化销号。",
        "Both sides signed the joint check; the issue is closed and struck off the list.",
    ),
    "notice.close.ask_to_auditor": (
        "问题已销号，请按计划开展第三方回头看。",
        "The issue is closed. Please carry out the third-party revisit as planned.",
    ),
    "notice.confirm.tag": ("已核实", "Confirmed"),
    "notice.confirm.ask": ("问题经核查属实：{findings}。", "The investigation confirmed the issue: {findings}."),
    "notice.convene.tag": ("联席会议", "Joint meeting"),
    "notice.convene.ask": (
        "问题提交联席会议会办（{level}），议题：{agenda}。请做好参会准备。",
        "The issue goes to a joint meeting ({level}). Agenda: {agenda}. Please prepare to attend.",
    ),
    "notice.convene.ask_with_meeting_date": (
        "问题提交联席会议会办（{level}），议题：{agenda}，会议日期 {meeting_date}。请做好参会准备。",
        "The issue goes to a joint meeting ({level}) on {meeting_date}. Agenda: {agenda}. Please prepare to attend.",
    ),
    "notice.dismiss.tag": ("不予立案", "Dismissed"),
    "notice.dismiss.ask": (
        "问题经核查不予立案，理由：{reason}。",
        "After investigation the report was dismissed. Reason: {reason}.",
    ),
    "notice.dispatch.tag": ("河长调度", "River chief's order"),
    "notice.dispatch.ask": ("问题已提请河长调度：{order}。", "The issue went to the river chief, who orders: {order}."),
    "notice.dispatch.ask_to_receiving": (
        "调度要求：{order}。请在时限内落实并报送整改方案。",
        "The river chief orders: {order}. Please carry it out and send in a rectification plan before the deadline.",
    ),
    "notice.dispute.tag": ("异议", "Disputed"),
    "notice.dispute.ask": (
        "{receiving}对交办提出异议：{reason}。请双方开展难点商办。",
        "{receiving} disputes the hand-off: {reason}. The two sides are asked to negotiate.",
    ),
    "notice.duplicate_linked.tag": ("收到重复上报", "Duplicate report merged"),
    "notice.duplicate_linked.ask": (
        "{duplicate} 与本问题为同一问题，已合并至本问题办理，理由：{reason}。",
        "{duplicate} is the same problem as this issue and was merged into it. Reason: {reason}.",
    ),
    "notice.fail_check.tag": ("复核不通过", "Joint check failed"),
    "notice.fail_check.ask": (
        "联合复核未通过：{reason}。请于 {deadline} 前重新整改。",
        "The joint check failed: {reason}. Please rectify again by {deadline}.",
    ),
    "notice.flag.tag": ("重点关注", "Flagged"),
    "notice.flag.ask": (
        "{reporting}标注了一处跨界敏感点位，请纳入联合巡查重点。",
        "{reporting} flagged a sensitive cross-border spot. Please make it a focus of joint patrols.",
    ),
    "notice.hand_off.tag": ("交办", "Handed off"),
    "notice.hand_off.ask": (
        "{reporting}已将问题交办{receiving}，请关注受理进度。",
        "{reporting} has handed the issue to {receiving}. Please follow whether it is accepted.",
    ),
    "notice.hand_off.ask_to_receiving": (
        "{reporting}向你方交办跨界问题，请在时限内受理；如有异议，请提出异议进入商办。",
        "{reporting} has handed a cross-border issue to you. Please accept it before the deadline, or dispute it "
        "to start a negotiation.",
    ),
    "notice.investigate.tag": ("核查", "Under investigation"),
    "notice.investigate.ask": ("问题已进入核查。", "The issue is under investigation."),
    "notice.mark_duplicate.tag": ("重复上报", "Duplicate"),
    "notice.mark_duplicate.ask": (
        "该问题与 {of} 为同一问题，已合并至 {of} 办理，理由：{reason}。请在 {of} 跟进。",
        "This report is the same problem as {of} and was merged into it. Reason: {reason}. Please follow {of}.",
    ),
    "notice.negotiate.tag": ("难点商办", "Negotiation"),
    "notice.negotiate.ask": (
        "问题进入难点商办：{reason}。请在时限内协商一致。",
        "The issue goes to negotiation: {reason}. Please reach agreement before the deadline.",
    ),
    "notice.no_rebound.tag": ("回头看未反弹", "No rebound"),
    "notice.no_rebound.ask": ("回头看未发现反弹：{finding}。", "The revisit found no rebound: {finding}."),
    "notice.overdue.tag": ("超期", "Overdue"),
    "notice.overdue.ask": (
        "该问题已超过办理时限，请尽快办理；超期情况将纳入月通报。",
        "This issue is past its deadline. Please act on it soon: overdue issues are named in the monthly bulletin.",
    ),
    "notice.pass_check.tag": ("复核签认", "Joint check signed"),
    "notice.pass_check.ask": ("{actor}已在联合复核中签认。", "{actor} signed the joint check."),
    "notice.progress.tag": ("整改进展", "Progress"),
    "notice.progress.ask": ("整改进展：{note}。", "Progress: {note}."),
    "notice.progress.ask_with_percent": (
        "整改进展：{note}（完成 {percent}%）。",
        "Progress: {note} ({percent}% done).",
    ),
    "notice.rebound.tag": ("问题反弹", "Rebound"),
    "notice.rebound.ask": (
        "回头看发现问题反弹：{finding}。问题已重新进入整改。",
        "The revisit found the problem back: {finding}. The issue is back in rectification.",
    ),
    "notice.rebound.ask_to_receiving": (
        "回头看发现问题反弹：{finding}。请重新整改并按时报送。",
        "The revisit found the problem back: {finding}. Please rectify it again and report on time.",
    ),
    "notice.reminder.tag": ("办理提醒", "Reminder"),
    "notice.reminder.ask": (
        "该问题在你方的办理时限将至，请按时办理。",
        "Your deadline on this issue is near. Please act in time.",
    ),
    "notice.report.tag": ("发现问题", "Problem reported"),
    "notice.report.ask": (
        "{reporting}在巡河中发现跨界问题，请关注后续交办。",
        "{reporting} found a cross-border problem on patrol. Please follow its hand-off.",
    ),
    "notice.report_done.tag": ("整改完成", "Rectification done"),
    "notice.report_done.ask": (
        "{receiving}报告整改完成：{summary}。",
        "{receiving} reports the rectification done: {summary}.",
    ),
    "notice.report_done.ask_to_reporting": (
        "{receiving}报告整改完成：{summary}。请组织联合复核验收。",
        "{receiving} reports the rectification done: {summary}. Please arrange the joint check.",
    ),
    "notice.request_verify.tag": ("复核验收", "Joint check"),
    "notice.request_verify.ask": (
        "已申请联合复核验收，请到现场复核，确认清单事项并签认。",
        "A joint check is requested. Please check on site, confirm the checklist's items and sign.",
    ),
    "notice.reschedule.tag": ("时限调整", "Deadline recomputed"),
    "notice.reschedule.ask": ("问题的办理时限已重新计算：{reason}。", "The issue's deadline was recomputed: {reason}."),
    "notice.resolve.tag": ("会办议定", "Resolved"),
    "notice.resolve.ask": (
        "联席会议议定：{resolution}。整改方案：{plan}，{deadline} 前完成。",
        "The joint meeting resolved: {resolution}. Rectification plan: {plan}, to be finished by {deadline}.",
    ),
    "notice.start_rectify.tag": ("开始整改", "Rectification started"),
    "notice.start_rectify.ask": (
        "{receiving}已制定整改方案：{plan}，计划 {deadline} 前完成。",
        "{receiving} has a rectification plan: {plan}, to be finished by {deadline}.",
    ),
    "notice.start_revisit.tag": ("回头看", "Revisit"),
    "notice.start_revisit.ask": ("第三方回访机构开始回头看。", "The third-party reviewer has started the revisit."),
    # -- kinds about something other than one issue
    "notice.revisit_due.subject": ("【回头看到期】{code}", "[Revisit due] {code}"),
    "notice.revisit_due.ask": (
        "问题 {code} 已到回头看时间（{due_on}），请安排现场回访并记录是否反弹。",
        "Issue {code} is due for its revisit ({due_on}). Please visit the site and record whether the problem is back.",
    ),
    "notice.revisit_overdue.subject": ("【回头看逾期】{code}", "[Revisit overdue] {code}"),
    "notice.revisit_overdue.ask": (
        "问题 {code} 的回头看（应于 {due_on}）已逾期，请尽快完成。",
        "The revisit of issue {code} (due {due_on}) is overdue. Please carry it out soon.",
    ),
    "notice.bulletin.subject": ("【月通报】{compact} {period}", "[Monthly bulletin] {compact} {period}"),
    "notice.bulletin.ask": (
        "{period} 跨界问题月通报已生成，请查阅并通报超期单位。",
        "The cross-border issues bulletin for {period} is ready. Please read it and notify the offices overdue.",
    ),
    "notice.interview.subject": ("【季度约谈】{compact} {period}", "[Quarterly interviews] {compact} {period}"),
    "notice.interview.ask": (
        "{period} 连续三个月超期单位的约谈名单已生成，请安排约谈。",
        "The {period} list of offices overdue three months running is ready. Please arrange the interviews.",
    ),
    "notice.calendar_unknown.subject": (
        "【工作日历缺少 {year} 年节假日安排】",
        "[The work calendar has no holiday arrangement for {year}]",
    ),
    "notice.calendar_unknown.ask": (
        "有 {deadlines} 项待办时限落在 {year} 年，工作日历尚无该年节假日安排，暂按周一至周五计算。"
        "请在国务院办公厅公布安排后更新日历数据（或日历覆盖文件），并运行 riverchief calendar refresh 重算时限。",
        "{deadlines} pending deadlines fall in {year}, for which the work calendar has no holiday arrangement yet: "
        "they count Monday to Friday as working days for now. When the General Office of the State Council "
        "publishes the arrangement, update the calendar data (or the calendar override file) and run "
        "riverchief calendar refresh to recompute the deadlines.",
    ),
    "notice.meeting_invited.subject": ("【联席会议通知】{title} {day}", "[Joint meeting invitation] {title} {day}"),
    "notice.meeting_invited.ask": (
        "请于 {starts} 出席在{place}召开的{level}联席会议（{meeting}）：{title}。{agenda}"
        "如不能出席，请告知会议召集人并安排人员代为参会。",
        "Please attend the {level} joint meeting ({meeting}) at {starts} in {place}: {title}. {agenda} "
        "If you cannot attend, tell the convener and send someone in your place.",
    ),
    "notice.meeting_invited.agenda": ("会议议题：{items}。", "Agenda: {items}."),
    "notice.meeting_invited.agenda_sep": ("；", "; "),
    "notice.meeting_invited.agenda_item": ("{code} {title}", "{code} {title}"),
    "notice.meeting_invited.no_agenda": (
        "会议听取跨界问题整改进展。",
        "The meeting hears how the cross-border issues' rectification is going.",
    ),
    "notice.meeting_changed.subject": ("【联席会议变更】{title} 改为 {day}", "[Joint meeting moved] {title} to {day}"),
    "notice.meeting_changed.ask": (
        "联席会议（{meeting}）{title} 时间地点有变：改为 {starts} 在{place}召开。请据此安排。",
        "The joint meeting ({meeting}) {title} has moved: it is now at {starts} in {place}. Please plan for it.",
    ),
    "notice.meeting_changed.ask_with_note": (
        "联席会议（{meeting}）{title} 时间地点有变：改为 {starts} 在{place}召开。说明：{note}。请据此安排。",
        "The joint meeting ({meeting}) {title} has moved: it is now at {starts} in {place}. Note: {note}. "
        "Please plan for it.",
    ),
    "notice.meeting_cancelled.subject": ("【联席会议取消】{title}", "[Joint meeting cancelled] {title}"),
    "notice.meeting_cancelled.ask": (
        "原定 {starts} 召开的联席会议（{meeting}）{title} 已取消。",
        "The joint meeting ({meeting}) {title}, planned for {starts}, is cancelled.",
    ),
    "notice.meeting_cancelled.ask_with_note": (
        "原定 {starts} 召开的联席会议（{meeting}）{title} 已取消。原因：{note}。",
        "The joint meeting ({meeting}) {title}, planned for {starts}, is cancelled. Reason: {note}.",
    ),
    "notice.meeting_reminder.subject": ("【联席会议提醒】明天 {title}", "[Joint meeting tomorrow] {title}"),
    "notice.meeting_reminder.ask": (
        "提醒：联席会议（{meeting}）{title} 将于 {starts} 在{place}召开，请准时出席。",
        "Reminder: the joint meeting ({meeting}) {title} is at {starts} in {place}. Please be on time.",
    ),
    "notice.action_assigned.subject": ("【督办事项】{title}", "[Action item] {title}"),
    "notice.action_assigned.ask": (
        "联席会议议定由贵单位牵头办理督办事项 {action}：{title}，请于 {due_on} 前办结并报告办理情况。",
        "A joint meeting decided that your office leads action item {action}: {title}. Please finish it by "
        "{due_on} and report how it was done.",
    ),
    "notice.action_assigned.ask_with_meeting": (
        "联席会议（{meeting}）议定由贵单位牵头办理督办事项 {action}：{title}，请于 {due_on} 前办结并报告办理情况。",
        "The joint meeting ({meeting}) decided that your office leads action item {action}: {title}. Please finish "
        "it by {due_on} and report how it was done.",
    ),
    "notice.action_reminder.subject": (
        "【督办事项到期提醒】{action} {title}",
        "[Action item due soon] {action} {title}",
    ),
    "notice.action_reminder.ask": (
        "督办事项 {action}：{title} 将于 {due_on} 到期，请抓紧办理并报告办理情况。",
        "Action item {action}: {title} is due on {due_on}. Please finish it and report how it was done.",
    ),
    "notice.action_overdue.subject": ("【督办事项逾期】{action} {title}", "[Action item overdue] {action} {title}"),
    "notice.action_overdue.ask": (
        "督办事项 {action}：{title} 已于 {due_on} 到期仍未办结，将列入跨界问题整改情况通报，请尽快办结。",
        "Action item {action}: {title} was due on {due_on} and is not done. It will be named in the cross-border "
        "rectification bulletin; please finish it soon.",
    ),
    # -- the frame every message is laid out in
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
