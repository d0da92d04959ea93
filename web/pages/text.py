"""The pages' own words, in Simplified Chinese and English.

States, triggers and fields take their labels from the chart, categories and
checklist items from the policy, refusals from their reasons; this holds the
rest. A missing key is a bug, so lookups raise rather than show the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from states.chart import CHART, CHOICE_LABELS, PARTY_LABELS, PARTY_LABELS_EN, Field, FieldKind, Party
from states.policy import CATEGORIES, CHECKLIST_EN
from workflow.core.errors import (
    Conflict,
    CsrfRefused,
    InvalidTransition,
    NotFound,
    NotPermitted,
    Reason,
    Throttled,
    ValidationFailed,
    WorkflowError,
)

LANGUAGES = ("zh-CN", "en")

_TEXT: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "app": ("琼江河长制跨界协作", "Qiongjiang cross-border river chiefs"),
        "skip": ("跳到正文", "Skip to content"),
        "login": ("登录", "Log in"),
        "logout": ("退出", "Log out"),
        "person": ("账号", "Account"),
        "password": ("密码", "Password"),
        "login_failed": ("账号或密码不正确", "Wrong account or password"),
        "login_throttled": (
            "尝试次数过多，请 {minutes} 分钟后再试",
            "Too many attempts; try again in {minutes} minutes",
        ),
        "switch_lang": ("English", "中文"),
        "nav_queue": ("我的待办", "My queue"),
        "nav_report": ("上报问题", "Report a problem"),
        "nav_issues": ("全部问题", "All issues"),
        "nav_dashboard": ("协作看板", "Dashboard"),
        "nav_revisits": ("回头看", "Revisits"),
        "nav_map": ("一张图", "Map"),
        "nav_reports": ("报告与台账", "Reports"),
        "nav_admin": ("基础数据", "Reference data"),
        "role_chief": ("河长", "river chief"),
        "role_office": ("河长办", "river chief office"),
        "role_coordinator": ("协调员", "coordinator"),
        "role_auditor": ("第三方回访", "auditor"),
        "role_admin": ("管理员", "admin"),
        # -- the coordinator's workbench: issues, meetings, action items
        "nav_meetings": ("联席会议", "Joint meetings"),
        "nav_actions": ("督办事项", "Action items"),
        "issues_title": ("跨界问题清单", "The compact's issues"),
        "phase": ("环节", "Step"),
        "side": ("作为", "As"),
        "side_any": ("任一方", "either side"),
        "side_reporting": ("发现方", "reporting side"),
        "side_receiving": ("接收方", "receiving side"),
        "river": ("河流", "River"),
        "difficulty": ("难易程度", "Difficulty"),
        "waiting_on": ("等待谁办理", "Waiting on"),
        "wait_reporting": ("等发现方", "the reporting side"),
        "wait_receiving": ("等接收方", "the receiving side"),
        "wait_coordinator": ("等协调人", "the coordinator"),
        "wait_auditor": ("等回访机构", "the auditor"),
        "overdue_only": ("只看逾期", "Overdue only"),
        "order": ("排序", "Sort"),
        "order_newest": ("最新上报", "Newest first"),
        "order_oldest": ("最早上报", "Oldest first"),
        "order_due": ("时限最近", "Nearest deadline"),
        "any": ("全部", "Any"),
        "apply_filter": ("筛选", "Filter"),
        "clear_filter": ("清除筛选", "Clear"),
        "export_xlsx": ("导出 Excel", "Export XLSX"),
        "export_csv": ("导出 CSV", "Export CSV"),
        "page_n": ("第 {n} 页", "Page {n}"),
        "page_next": ("下一页", "Next page"),
        "page_prev": ("上一页", "Previous page"),
        "select": ("选择", "Select"),
        "select_some": ("请先勾选问题", "Select one or more issues first"),
        "with_selected": ("对勾选的问题", "With the selected issues"),
        "convene_selected": ("召开联席会议", "Convene a joint meeting"),
        "dispatch_selected": ("河长调度", "Dispatch"),
        "dispatch_order": ("调度要求", "Order"),
        "dispatched_n": ("已调度 {n} 件问题", "{n} issues dispatched"),
        "no_issues": ("没有符合条件的问题", "No issue matches"),
        "col_code": ("编号", "Code"),
        "col_title": ("问题", "Issue"),
        "col_category": ("类别", "Category"),
        "col_state": ("状态", "State"),
        "col_reporting": ("发现方", "Reporting side"),
        "col_receiving": ("接收方", "Receiving side"),
        "col_deadline": ("办理时限", "Deadline"),
        "col_overdue": ("是否逾期", "Overdue"),
        "col_created": ("上报时间", "Reported"),
        "yes": ("是", "yes"),
        "bad_date": ("日期或时间格式不对", "not a valid date or time"),
        "meetings_title": ("联席会议", "Joint meetings"),
        "upcoming": ("即将召开", "Upcoming"),
        "past_meetings": ("已召开或已取消", "Held or cancelled"),
        "open_actions": ("未办结的督办事项", "Open action items"),
        "new_meeting": ("召开联席会议", "Convene a joint meeting"),
        "meeting_code": ("会议编号", "Meeting"),
        "meeting_name": ("会议名称", "Title"),
        "meeting_date": ("会议日期", "Date"),
        "meeting_time": ("开始时间", "Time"),
        "meeting_place": ("会议地点", "Place"),
        "meeting_level": ("会议层级", "Level"),
        "level_default": ("按建议层级", "The suggested level"),
        "level_hint": (
            "不选则按问题难易程度和是否跨省自动建议；选择其他层级须说明理由",
            "Left empty, the level follows the issues' difficulty and whether they cross a province; "
            "another level needs its reason",
        ),
        "level_reason": ("层级说明", "Why this level"),
        "suggested_level": ("建议层级：{level}", "Suggested level: {level}"),
        "agenda_issues": ("会办问题", "Issues to decide"),
        "agenda_none": ("不涉及具体问题（听取整改进展）", "No issue to decide (a progress review)"),
        "issues_n": ("{n} 件", "{n} issues"),
        "convener": ("召集人", "Convener"),
        "meeting_status": ("会议状态", "Status"),
        "status_planned": ("待召开", "planned"),
        "status_held": ("已召开", "held"),
        "status_cancelled": ("已取消", "cancelled"),
        "invitees": ("参会人员", "Invitees"),
        "attendance": ("出席情况", "Attendance"),
        "att_invited": ("未登记", "not recorded"),
        "att_present": ("出席", "present"),
        "att_absent": ("缺席", "absent"),
        "att_excused": ("请假", "excused"),
        "stand_in": ("代参会人", "Stand-in"),
        "record_attendance": ("登记出席情况", "Record attendance"),
        "mark_someone": ("请至少登记一人的出席情况", "Record at least one person's attendance"),
        "decisions": ("议定事项", "Decisions"),
        "record_decision": ("记录议定事项", "Record the decision"),
        "resolution": ("议定事项", "Decision"),
        "plan": ("整改方案", "Plan"),
        "deadline": ("整改时限", "Deadline"),
        "decided": ("已议定", "Decided"),
        "not_begun": ("会议当天起可登记出席和议定事项", "Attendance and decisions are recorded from the meeting's day"),
        "review_issues": ("通报进展的问题", "Issues reviewed"),
        "action_items": ("督办事项", "Action items"),
        "add_action": ("新增督办事项", "Add an action item"),
        "action_title": ("事项", "Item"),
        "owner": ("责任单位", "Owner"),
        "due_on": ("完成时限", "Due"),
        "action_status": ("办理情况", "Status"),
        "action_open": ("办理中", "open"),
        "action_done": ("已办结", "done"),
        "action_overdue": ("已逾期", "overdue"),
        "outcome": ("办理结果", "What was done"),
        "mark_done": ("办结销号", "Mark done"),
        "file_minutes": ("生成并存档会议纪要", "File the minutes"),
        "not_held": ("会议召开后才能生成纪要", "Minutes are filed once the meeting was held"),
        "change_meeting": ("调整时间地点", "Move the meeting"),
        "cancel_meeting": ("取消会议", "Cancel the meeting"),
        "cancel_reason": ("取消原因", "Why"),
        "save": ("保存", "Save"),
        "done_convened": ("联席会议已召开，邀请已发送", "Meeting convened; invitations sent"),
        "done_attendance": ("出席情况已登记", "Attendance recorded"),
        "done_decision": ("议定事项已记录，问题转入整改", "Decision recorded; the issue goes to rectification"),
        "done_action": ("督办事项已添加，已通知责任单位", "Action item added; its owner was told"),
        "done_change": ("会议已更新，已通知参会人员", "Meeting updated; invitees were told"),
        "done_minutes": ("会议纪要已存档", "Minutes filed"),
        "done_action_done": ("督办事项已办结", "Action item closed"),
        "issue_bulletin": ("通报整改情况", "Issue a progress bulletin"),
        "name_col": ("姓名", "Name"),
        "total": ("合计", "Total"),
        "counts_for_reporting": ("计入发现方", "for the reporting side"),
        "counts_for_receiving": ("计入接收方", "for the receiving side"),
        "counts_for_both": ("双方各计", "for each side"),
        "counts_for_waited": ("计入被等待方", "for the side waited on"),
        "counts_note": (
            "“双方各计”的事项同时计入发现方和接收方，因此合计可能大于协作机制的总数；点击数字查看对应问题清单。",
            "Figures counted for each side count an issue for both of its sides, so their total may exceed the "
            "compact's; click a figure for the issues behind it.",
        ),
        "bulletin_from": ("起始日期", "From"),
        "bulletin_to": ("截止日期（含）", "To (included)"),
        "bulletin_hint": ("按年度顺序编号，生成 PDF 并存档", "Numbered in order for the year, filed as a PDF"),
        "bulletin_issued": ("{number} 已生成并存档", "{number} issued and filed"),
        "queue_title": ("我的待办", "My queue"),
        "to_accept": ("待我受理的交办", "Hand-offs awaiting my acceptance"),
        "overdue": ("已逾期", "Overdue"),
        "due_soon": ("即将到期", "Due soon"),
        "on_me": ("等我处理", "Waiting on me"),
        "on_others": ("等待对方", "Waiting on others"),
        "nothing": ("暂无", "Nothing here"),
        "due": ("时限", "Deadline"),
        "no_deadline": ("无时限", "No deadline"),
        "state": ("状态", "State"),
        "category": ("问题类别", "Category"),
        "title": ("标题", "Title"),
        "description": ("问题描述", "Description"),
        "place": ("地点", "Place"),
        "segment": ("河段", "Segment"),
        "reporting": ("发现方", "Reporting side"),
        "receiving": ("接收方", "Receiving side"),
        "compact": ("协作机制", "Compact"),
        "created": ("上报时间", "Reported"),
        "version": ("版本", "Version"),
        "timeline": ("办理经过", "Timeline"),
        "photos": ("照片与材料", "Photos and documents"),
        "actions": ("我可以做的", "What I can do"),
        "not_yet": ("暂不能{action}", "Not yet: {action}"),
        "blocked_both_sides_signed": ("双方尚未都签字确认复核", "both sides have not yet signed the joint check"),
        "blocked_checklist_complete": ("核查清单尚有未确认项", "checklist items are not all confirmed yet"),
        "blocked_last_revisit_clean": ("须先完成一次未发现反弹的回头看", "a revisit that found no rebound comes first"),
        "blocked_side_not_signed": ("本方已签字确认", "your side has signed already"),
        "no_actions": ("当前没有需要您办理的操作。", "Nothing for you to do on this issue now."),
        "submit": ("提交", "Submit"),
        "stale": (
            "该问题已被他人更新，请刷新页面后重试。",
            "Someone else changed this issue; reload the page and try again.",
        ),
        "reload": ("刷新", "Reload"),
        "calendar_gap": (
            "工作日历尚无 {years} 年节假日安排：{count} 项待办时限暂按周一至周五计算。"
            "国务院办公厅公布安排后，请更新日历数据并运行 riverchief calendar refresh 重算时限。",
            "The working-day calendar has no holiday arrangement for {years} yet: {count} pending deadline(s) are "
            "counted Monday to Friday. Once the arrangement is announced, update the calendar data and run "
            "riverchief calendar refresh to count them again.",
        ),
        "fix_fields": ("请修改标出的内容。", "Please correct the marked fields."),
        "done": ("已提交：{what}", "Done: {what}"),
        "forbidden": ("您无权执行此操作。", "You may not do this."),
        "not_found": ("未找到。", "Not found."),
        "report_title": ("上报问题", "Report a problem"),
        "position": ("位置", "Position"),
        "use_location": ("使用当前位置", "Use my location"),
        "tap_map": ("点击地图选取位置，或使用当前位置", "Tap the map to set the position, or use your location"),
        "locating": ("正在定位…", "Locating…"),
        "lon": ("经度", "Longitude"),
        "lat": ("纬度", "Latitude"),
        "photos_hint": ("可多选，每张不超过 {mb} MB", "Several allowed, each up to {mb} MB"),
        "too_big": ("“{name}” 超过 {mb} MB", "“{name}” is over {mb} MB"),
        "list_sep": ("；", "; "),
        "photo_refused": ("“{name}” 未能上传：{why}", "“{name}” was not uploaded: {why}"),
        "refused_empty": ("文件为空", "the file is empty"),
        "refused_too_big": ("文件大小为 {size}，上限为 {limit}", "it is {size}; the limit is {limit}"),
        "refused_kind": (
            "只接受 JPEG、PNG、WebP 照片或 PDF 文档（按文件内容判断）",
            "only JPEG, PNG or WebP photos and PDF documents are taken (judged by their content)",
        ),
        "refused_pixels": ("图像超过 {limit} 百万像素的上限", "the image is over the limit of {limit} megapixels"),
        "refused_filename": (
            "文件名须为不超过 200 个字符的文本",
            "the file name must be text of at most 200 characters",
        ),
        "refused_caption": ("说明须为不超过 300 个字符的文本", "the caption must be text of at most 300 characters"),
        "report_not_sent": (
            "有照片未能上传，问题尚未上报。请更换照片后重新提交。",
            "A photo was refused, so nothing was reported. Replace it and send again.",
        ),
        "photos_none_added": (
            "有照片未能上传，本次的照片均未添加。",
            "A photo was refused, so none of these photos was added.",
        ),
        "photos_not_added": ("照片未能添加：{why}。", "The photos were not added: {why}."),
        "photo_not_added": (
            "问题已上报，但“{name}”未能添加：{why}。请在下方重新上传。",
            "The issue was reported, but “{name}” was not added: {why}. Please upload it again below.",
        ),
        "why_stale": ("该问题同时被他人更新", "someone else changed the issue at the same time"),
        "why_forbidden": ("您无权为该问题添加材料", "you may not add evidence to this issue"),
        "why_refused": ("文件不符合要求", "the file was refused"),
        "why_not_stored": ("文件未能保存", "the file could not be stored"),
        "proposed_side": ("建议接收方", "Proposed receiving side"),
        "swap_context": (
            "交叉巡河：您在结对河段 {segment} 上报，问题将交给 {owner}",
            "Swap patrol: reported on paired segment {segment}, for {owner}",
        ),
        "send": ("上报", "Send"),
        "dashboard_title": ("协作看板", "Compact dashboard"),
        "figures": ("本年累计", "This year so far"),
        "overdue_parties": ("逾期单位", "Overdue parties"),
        "late_in_all": ("等共 {n} 件", "({n} in all)"),
        "blocked": ("需联席会议研究的问题", "Issues for a joint meeting"),
        "revisits_title": ("回头看", "Revisits"),
        "revisit_late": ("逾期 {days} 个工作日（计划 {day}）", "{days} working days late (due {day})"),
        "revisit_today": ("今天到期", "Due today"),
        "start_revisit": ("开始回访", "Start the revisit"),
        "revisit_in_progress": ("回访中，请记录是否反弹", "In progress: record whether it rebounded"),
        "revisit_due": ("计划日期", "Due on"),
        "revisit_round": (
            "第 {cycle} 轮第 {seq} 次（结案后 {days} 天）",
            "Cycle {cycle}, visit {seq} ({days} days after closure)",
        ),
        "reports_title": ("报告与台账", "Reports and ledger"),
        "download": ("下载", "Download"),
        "english_copy": ("英文副本", "English copy"),
        "english_copy_hint": (
            "按台账现状生成的英文副本，不归档",
            "Made now from the ledger as it stands; not filed",
        ),
        "map_title": ("流域一张图", "Watershed map"),
        "open_issues": ("未办结问题", "Open issues"),
        "layer_jurisdiction": ("行政区", "Jurisdictions"),
        "layer_catchment": ("汇水区", "Catchments"),
        "layer_sensitive": ("敏感区域", "Sensitive areas"),
        "layer_river": ("河流", "Rivers"),
        "layer_segment": ("河段", "Segments"),
        "layer_sewage_plant": ("污水处理厂", "Sewage plants"),
        "layer_outfall": ("排污口", "Outfalls"),
        "admin_title": ("导入基础数据", "Import reference data"),
        "admin_file": ("文件（YAML、JSON 或 GeoJSON）", "File (YAML, JSON or GeoJSON)"),
        "admin_kind": ("导入内容", "What to import"),
        "admin_reference": (
            "基础数据：行政区、人员、协作机制、河流河段",
            "Reference data: areas, people, compacts, rivers",
        ),
        "admin_layer": ("地图图层", "Map layer"),
        "imported": ("已导入：{counts}", "Imported: {counts}"),
        "working_days_left": ("剩余工作日", "Working days left"),
        "all_issues": ("全部问题", "All issues"),
        "search": ("搜索", "Search"),
        "optional": ("选填", "optional"),
        "required": ("必填", "required"),
        "not_logged_in": ("请先登录。", "Please log in."),
        "figure_handed_over": ("交办问题", "Handed over"),
        "figure_accepted": ("受理问题", "Accepted"),
        "figure_joint_meetings": ("联席会议", "Joint meetings"),
        "figure_meetings_held": ("联席会议", "Joint meetings"),
        "figure_rectified": ("完成整改", "Rectified"),
        "figure_closed": ("办结销号", "Closed"),
        "figure_revisits": ("回头看", "Revisits"),
        "figure_rebounds": ("反弹", "Rebounds"),
        "figure_overdue": ("逾期", "Overdue"),
        "party": ("单位", "Party"),
        "chiefs": ("河长", "Chiefs"),
        "issues": ("问题", "Issues"),
        "by_party": ("各方情况", "By party"),
        "error_404": ("页面不存在，或您无权查看。", "There is no such page, or it is not yours to see."),
        "error_403": ("您无权进行此操作。", "You may not do this."),
        "error_405": ("此页面不接受这种请求。", "This page does not take that kind of request."),
        "error_500": (
            "服务出现故障，已记录，请稍后再试；已提交的内容不会丢失。",
            "Something went wrong on our side. It is logged; try again shortly. Nothing committed is lost.",
        ),
        "error_other": ("请求无法处理（{status}）。", "The request could not be handled ({status})."),
        "go_home": ("返回首页", "Back to the start"),
        "revisit_more_due": (
            "另有 {n} 次计划回访也已到期，本次一并开展",
            "{n} more planned revisits are due too; this visit covers them",
        ),
        "revisits_planned": ("计划中的回访", "Planned revisits"),
        "report_kind_followup": ("问题跟踪报告", "Issue follow-up report"),
        "report_kind_revisit": ("回访报告", "Revisit report"),
        "report_kind_bulletin": ("月通报", "Monthly bulletin"),
        "report_kind_progress": ("整改情况通报", "Progress bulletin"),
        "report_kind_interview": ("季度约谈名单", "Quarterly interview list"),
        "report_kind_minutes": ("联席会议纪要", "Joint meeting minutes"),
        "report_kind_ledger": ("跨界问题台账", "Ledger of cross-border issues"),
        "report_format": ("格式", "Format"),
        "report_size": ("大小", "Size"),
        "report_filed": ("存档", "Filed"),
        "report_what": ("报告", "Report"),
        # -- patrols on a phone (巡): start, walk, report from inside, stop; my patrols
        "nav_patrols": ("我的巡河", "My patrols"),
        "patrols_title": ("我的巡河", "My patrols"),
        "quota_month": ("本月考核（{window}）", "This month's assessment ({window})"),
        "quota_done": ("已巡 {done} 次 / 应巡 {required} 次", "{done} of {required} patrols done"),
        "quota_rate": ("完成率 {rate}", "{rate} complete"),
        "quota_none": ("本月对您没有巡河次数要求", "No patrol quota applies to you this month"),
        "quota_counts": (
            "已结束的日常巡河和交叉互巡计入考核",
            "Ended routine and swap patrols count towards the quota",
        ),
        "under_way": ("正在巡河", "Patrol under way"),
        "continue_patrol": ("继续巡河", "Continue the patrol"),
        "start_title": ("开始巡河", "Start a patrol"),
        "start_segment": ("巡查河段", "Segment to patrol"),
        "start_hint": (
            "可巡查本人负责的河段，或在交叉互巡结对期内巡查对方的河段",
            "Your own segment, or the neighbour's under a live swap pairing",
        ),
        "start_button": ("开始巡河", "Start"),
        "no_segments": ("今天没有您可以巡查的河段", "No segment for you to patrol today"),
        "pick_segment": ("请选择要巡查的河段", "choose the segment to patrol"),
        "not_your_segment": ("不是您今天可以巡查的河段", "not a segment you may patrol today"),
        "already_under_way": (
            "您有一次巡河尚未结束，请先结束它",
            "you have a patrol under way; end it first",
        ),
        "swap_label": ("交叉互巡", "swap patrol"),
        "swap_owner": ("{owner}的河段", "{owner}'s segment"),
        "upload_title": ("补传巡河轨迹", "Upload a track afterwards"),
        "upload_file": ("轨迹文件（GPX 或 GeoJSON）", "Track file (GPX or GeoJSON)"),
        "upload_hint": ("巡河时间按轨迹中记录的时间计算", "The patrol is timed by the track's own times"),
        "upload_button": ("上传轨迹", "Upload"),
        "pick_file": ("请选择轨迹文件", "choose a track file"),
        "file_too_big": ("文件超过 {mb} MB", "the file is over {mb} MB"),
        "track_unreadable": ("轨迹文件无法读取：{why}", "the track could not be read: {why}"),
        "uploaded": ("轨迹已上传，巡河记录已保存", "Track uploaded; the patrol is recorded"),
        "notes": ("备注", "Notes"),
        "patrol_kind": ("巡河类型", "Kind"),
        "kind_auto": ("按河段确定", "From the segment"),
        "kind_routine": ("日常巡河", "routine patrol"),
        "kind_swap": ("交叉互巡", "swap patrol"),
        "kind_covert": ("暗访巡查", "covert inspection"),
        "patrol_list": ("巡河记录", "Patrols"),
        "col_date": ("日期", "Date"),
        "col_duration": ("时长", "Duration"),
        "col_length": ("里程", "Length"),
        "col_problems": ("发现问题", "Problems found"),
        "no_patrols": ("暂无巡河记录", "No patrols yet"),
        "duration_hm": ("{h} 小时 {m} 分", "{h} h {m} min"),
        "duration_m": ("{m} 分钟", "{m} min"),
        "length_km": ("{km} 公里", "{km} km"),
        "patrol_heading": ("巡河：{segment}", "Patrol: {segment}"),
        "patroller": ("巡河人", "Patroller"),
        "started_at": ("开始时间", "Started"),
        "ended_at": ("结束时间", "Ended"),
        "patrol_ended": ("巡河已结束", "Patrol ended"),
        "track_why": (
            "点击下方按钮后，浏览器会询问是否允许使用位置。位置只用于记录本次巡河的轨迹和里程，"
            "仅在本页面打开时记录，先保存在手机上，结束巡河时一并上传。",
            "Once you tap the button below, the browser asks to use your position. It is used only to record "
            "this patrol's track and length, only while this page is open; it is kept on the phone and sent "
            "when you end the patrol.",
        ),
        "track_start": ("开始记录轨迹", "Start recording the track"),
        "walked_time": ("已巡时间", "Time"),
        "walked_distance": ("里程", "Distance"),
        "walked_points": ("定位点", "Positions"),
        "pause": ("暂停记录", "Pause"),
        "resume": ("继续记录", "Resume"),
        "recording": ("正在记录轨迹", "Recording the track"),
        "paused": ("已暂停，继续时从新位置开始新的一段", "Paused: resuming starts a new run"),
        "stop": ("结束巡河", "End the patrol"),
        "stop_confirm": (
            "结束后将上传轨迹，本次巡河不能再继续。确认结束？",
            "The track is sent and the patrol cannot go on. End it now?",
        ),
        "stop_yes": ("确认结束", "Yes, end it"),
        "stop_no": ("继续巡河", "Keep going"),
        "geo_none": ("此浏览器无法定位，轨迹不能记录", "This browser cannot locate you; no track can be recorded"),
        "geo_denied": (
            "未允许使用位置，轨迹不能记录。请在浏览器设置中允许本网站使用位置后重试。",
            "Position not allowed, so no track is recorded. Allow this site to use your position and try again.",
        ),
        "geo_unavailable": ("暂时无法定位，正在重试…", "No position at the moment; still trying…"),
        "geo_accuracy": ("精度 ±{m} 米", "accuracy ±{m} m"),
        "sending": ("正在上传…", "Sending…"),
        "no_signal": (
            "无信号，内容已保留在手机上。有信号后请再点一次。",
            "No signal: kept on the phone. Tap again once there is signal.",
        ),
        "send_refused": ("未能提交：{why}", "Not sent: {why}"),
        "found_problem": ("发现问题，现场上报", "Found a problem? Report it here"),
        "report_position": ("将附上当前位置 {lon}, {lat}", "Your position {lon}, {lat} goes with it"),
        "report_no_position": ("尚未定位，上报将不带位置", "No position yet: the report goes without one"),
        "photo_optional": ("现场照片（选填）", "Photo (optional)"),
        "reported_code": ("已上报，编号 {code}", "Reported as {code}"),
        "handed_to": ("已即时交给{name}", "Handed at once to {name}"),
        "photo_failed": ("问题已上报，但照片未能上传：{why}", "Reported, but the photo was not added: {why}"),
        "problems_found": ("本次巡河发现的问题", "Problems found on this patrol"),
        "no_problems": ("本次巡河尚未发现问题", "No problem found on this patrol"),
        "track_title": ("巡河轨迹", "Track"),
        "no_track": ("本次巡河没有轨迹", "This patrol has no track"),
        "own_segment": ("本方河段", "Own segment"),
        "back_to_patrols": ("返回我的巡河", "Back to my patrols"),
        "bad_kind": ("不是可选的巡河类型", "not a kind of patrol on offer"),
        "label_sep": ("：", ": "),
        "no_signal_kept": (
            "无信号，已存为草稿，有信号后自动发送。",
            "No signal: kept as a draft, sent by itself once there is signal.",
        ),
        # (end of patrols)
        # -- joint enforcement cases and litigation leads (查)
        "nav_enforcement": ("联合执法", "Enforcement"),
        "enf_title": ("联合执法与公益诉讼线索", "Joint enforcement and litigation leads"),
        "enf_cases": ("联合执法案件", "Joint enforcement cases"),
        "enf_leads": ("移送公益诉讼线索", "Litigation leads transferred"),
        "enf_new_case": ("联合执法立案", "Open a joint case"),
        "enf_new_lead": ("移送公益诉讼线索", "Transfer a litigation lead"),
        "enf_case_code": ("案件编号", "Case no."),
        "enf_kind": ("案件类型", "Kind"),
        "enf_case_title": ("案件名称", "Case"),
        "enf_parties": ("参与方", "Parties"),
        "enf_parties_hint": ("选择两个以上行政区", "Choose two or more jurisdictions"),
        "enf_team": ("执法力量", "Enforcement team"),
        "enf_team_hint": ("每行一个执法单位或人员", "One unit or officer a line"),
        "enf_opened_on": ("立案日期", "Opened on"),
        "enf_closed_on": ("结案日期", "Closed on"),
        "enf_outcome": ("处理结果", "Outcome"),
        "enf_status": ("状态", "Status"),
        "enf_case_open": ("办理中", "Open"),
        "enf_case_closed": ("已结案", "Closed"),
        "enf_issues": ("关联问题", "Linked issues"),
        "enf_issues_hint": ("问题编号，多个用空格或逗号分开", "Issue numbers, separated by spaces or commas"),
        "enf_link": ("关联问题", "Link an issue"),
        "enf_issue_code": ("问题编号", "Issue no."),
        "enf_close": ("结案", "Close the case"),
        "enf_lead_code": ("线索编号", "Lead no."),
        "enf_lead_title": ("线索名称", "Lead"),
        "enf_side": ("移送方", "Transferred by"),
        "enf_procuratorate": ("检察机关", "Procuratorate"),
        "enf_procuratorate_hint": ("例如：潼南区人民检察院", "The receiving people's procuratorate"),
        "enf_transferred_on": ("移送日期", "Transferred on"),
        "enf_from_issue": ("来源问题", "From issue"),
        "enf_from_case": ("来源案件", "From case"),
        "enf_receipt_no": ("回执编号", "Receipt no."),
        "enf_received_on": ("接收日期", "Received on"),
        "enf_receipt": ("检察机关回执", "Procuratorate's receipt"),
        "enf_record_receipt": ("登记回执", "Record the receipt"),
        "enf_record_outcome": ("登记处理结果", "Record the outcome"),
        "enf_lead_sent": ("已移送", "Transferred"),
        "enf_lead_received": ("已接收", "Received"),
        "enf_case_leads": ("由本案移送的线索", "Leads from this case"),
        "enf_transfer_from_case": ("由本案移送线索", "Transfer a lead from this case"),
        "enf_on_issue": ("联合执法与线索", "Enforcement and leads"),
        "enf_case_for_issue": ("为本问题联合执法立案", "Open a joint case on this issue"),
        "enf_lead_for_issue": ("由本问题移送线索", "Transfer a lead from this issue"),
        "enf_none": ("（无）", "(none)"),
        "enf_done_opened": ("已立案。", "The case is opened."),
        "enf_done_closed": ("已结案。", "The case is closed."),
        "enf_done_linked": ("已关联问题。", "The issue is linked."),
        "enf_done_transferred": ("已登记移送。", "The transfer is recorded."),
        "enf_done_received": ("已登记回执。", "The receipt is recorded."),
        # (end of enforcement)
        # -- duplicates and the report form
        "duplicate_of": ("重复上报，原问题", "A duplicate of"),
        "nearby_title": ("附近已有同类问题", "Open problems of this kind nearby"),
        "nearby_hint": (
            "如是同一问题，请打开该问题补充情况或照片；如不是，请继续上报。",
            "If it is the same problem, open it to add what you found or photos; if not, go on with your report.",
        ),
        "nearby_distance": ("相距 {m} 米", "{m} m away"),
        "nearby_go_on": ("不是同一问题，继续上报", "A different problem: go on"),
        "duplicates": ("重复上报", "Reported again as"),
        "duplicate_candidates": ("附近同类问题", "Similar problems nearby"),
        "duplicate_code_hint": ("填写原问题编号，如 QJ-2026-0001", "The original's code, e.g. QJ-2026-0001"),
        # (end of duplicates)
        # -- offline drafts
        "offline": ("无信号，已存为草稿", "No signal: kept as a draft"),
        "drafts_waiting": ("{n} 条草稿待发送", "{n} drafts waiting to be sent"),
        "draft_sent": ("已发送", "Sent"),
        "draft_sending": ("正在发送…", "Sending…"),
        "draft_refused": ("未能发送，请修改或删除草稿：", "Not sent; correct or discard the draft:"),
        "drafts_title": ("待发送的草稿", "Drafts waiting"),
        "draft_discard": ("删除草稿", "Discard"),
        "draft_edit": ("修改", "Edit"),
        "draft_send_now": ("立即发送", "Send now"),
        "draft_made_at": ("存于", "Kept at"),
        "draft_untitled": ("（无标题）", "(untitled)"),
        "reported_at": ("上报时间", "Reported"),
        "observed_at": ("发现时间", "Seen"),
        # (end of offline)
        # -- quotas and completion over a month, a quarter, a year
        "completion": ("完成率", "Completion"),
        "patrol_completion": ("各区县巡河完成率（{period}）", "Patrol completion by district ({period})"),
        "district": ("区县", "District"),
        "patrols_made": ("巡河次数", "Patrols"),
        "patrol_issues": ("巡河发现问题", "Problems found on patrol"),
        "patrols_required": ("应巡", "Required"),
        "patrols_done": ("实巡", "Done"),
        "no_patrol_plan": ("未设巡河计划", "No patrol quota"),
        "completion_note": (
            "巡河次数为本年至今在本机制河段的巡河；完成率按已结束的整月计算，进行中的巡河不计。",
            "Patrols: this year so far on the compact's segments; completion over the whole months ended, "
            "patrols under way not counted.",
        ),
        # (end of quotas)
        # -- map
        "map_overdue": ("其中已逾期", "Of which overdue"),
        "map_closed": ("已销号问题", "Closed issues"),
        "map_issue": ("{code} {title}（{state}）", "{code} {title} ({state})"),
        "map_zoom_in": ("放大", "Zoom in"),
        "map_zoom_out": ("缩小", "Zoom out"),
        "map_base_plain": ("无底图", "No base map"),
        "map_base_tianditu": ("天地图", "Tianditu"),
        "map_tianditu_attribution": ("底图：天地图", "Base map: Tianditu"),
        "map_hint": (
            "拖动平移，滚轮、双指或 +/− 按钮缩放；点击问题标记打开该问题。",
            "Drag to pan; zoom with the wheel, two fingers or the +/− buttons; select an issue marker to open it.",
        ),
        "map_empty": (
            "尚未导入地图图层，也没有带位置的问题。",
            "No map layers imported and no issue with a position yet.",
        ),
        # (end of map)
        # -- revisits
        "not_yet_because": ("暂不能{action}：{why}", "Not yet: {action}, because {why}"),
        "field_said": ("{field}：{reason}", "{field}: {reason}"),
        "photo_taken": ("拍摄于 {when}", "Taken {when}"),
        "photo_no_time": ("无拍摄时间", "No time taken"),
        "photo_no_place": ("无拍摄位置", "no place"),
        "photo_no_facts": ("照片无拍摄时间/位置", "The photo says no time or place"),
        "revisit_record": ("记录回访结果", "Record the revisit"),
        "revisit_field_finding": ("回访情况", "Finding"),
        "revisit_field_photos": ("现场照片", "Photos taken on site"),
        "revisit_field_outcome": ("回访结论", "Outcome"),
        "revisit_field_deadline": ("新的整改时限", "New rectification deadline"),
        "revisit_field_from": ("起始日期", "From"),
        "revisit_field_to": ("截止日期", "To"),
        "revisit_field_issues": ("回访问题", "Revisits"),
        "revisit_finding_hint": (
            "现场看到的情况：排口、水体、整改设施是否保持",
            "What you saw on site: the outfall, the water, whether the works hold",
        ),
        "revisit_photos_hint": (
            "可多选，每张不超过 {mb} MB。上传后显示每张照片的拍摄时间和位置，可先上传核对，再选择结论。",
            "Several allowed, each up to {mb} MB. Each photo shows when and where it was taken once uploaded: "
            "upload them first to check, then choose the outcome.",
        ),
        "revisit_upload_first": ("先上传照片", "Upload the photos first"),
        "revisit_no_rebound": ("未反弹", "No rebound"),
        "revisit_rebound": ("反弹", "Rebound"),
        "revisit_no_rebound_hint": ("整改效果保持，本次回访完成", "The rectification holds; this revisit is done"),
        "revisit_rebound_hint": (
            "问题再次出现，退回接收方重新整改",
            "The problem is back: it returns to the receiving side to rectify again",
        ),
        "revisit_deadline_hint": (
            "反弹时可填；不填则为 {days} 个工作日后",
            "For a rebound, if you wish; left empty, {days} working days from today",
        ),
        "revisit_submit": ("提交回访结果", "Record the outcome"),
        "revisit_fix": ("请修改{fields}", "Please correct {fields}"),
        "revisit_choose_outcome": ("请选择未反弹或反弹", "choose no rebound or rebound"),
        "revisit_choose_photos": ("请先选择照片", "choose the photos first"),
        "revisit_photos_added": (
            "已上传 {n} 张照片，请核对拍摄时间和位置后选择结论。",
            "{n} photos uploaded: check when and where they were taken, then choose the outcome.",
        ),
        "revisit_photos_again": (
            "所选照片未上传，请重新选择。",
            "The photos chosen were not uploaded: choose them again.",
        ),
        "revisit_finding_kept": ("您填写的回访情况未保存：{finding}", "Your finding was not recorded: {finding}"),
        "revisit_reports": ("回访报告", "Revisit reports"),
        "revisit_report_new": ("提交回访报告", "File a revisit report"),
        "revisit_report_title": ("提交回访报告", "File a revisit report"),
        "revisit_report_span": ("协作机制和期间", "Compact and period"),
        "revisit_report_span_hint": (
            "默认自本机制上次提交的回访报告之后起，至今天止。",
            "From the day after the compact's last revisit report filed here, to today, unless you change it.",
        ),
        "revisit_report_show": ("查看该期间的回访", "Show the revisits of this period"),
        "revisit_report_done": ("该期间已完成的回访（{n} 个问题）", "Revisits finished in the period ({n} issues)"),
        "revisit_report_pick": ("勾选纳入报告的问题", "Tick the issues the report covers"),
        "revisit_report_file_hint": (
            "生成 PDF 回访报告并存档，存档后不可修改。",
            "The report is made as a PDF and filed; once filed it does not change.",
        ),
        "revisit_report_file": ("生成并提交回访报告", "Make and file the report"),
        "revisit_report_none": ("该期间没有已完成的回访。", "No revisit was finished in this period."),
        "revisit_report_filed": ("回访报告已存档：{title}", "Revisit report filed: {title}"),
        "revisit_report_to_before_from": ("早于起始日期", "the last day is before the first"),
        "revisit_report_choose": ("请至少勾选一个问题", "tick at least one issue"),
        "revisit_report_not_in_span": (
            "不是该期间已完成回访的问题：{codes}",
            "not among the revisits finished in the period: {codes}",
        ),
        "revisit_report_no_compact": (
            "您不是任何协作机制的第三方回访机构，不能提交回访报告。",
            "You audit no compact, so you cannot file a revisit report.",
        ),
        "revisit_report_not_yours": (
            "您不是协作机制 {c} 的第三方回访机构，不能为其提交回访报告。",
            "You do not audit the compact {c}, so you cannot file its revisit report.",
        ),
        "revisit_report_sent_before": (
            "这份表单已经提交过。请重新打开“提交回访报告”页面再提交。",
            "This form was sent before. Open the revisit report page again to file another.",
        ),
        # (end of revisits)
        # -- english
        "item_sep": ("、", ", "),
        "in_parens": ("（{text}）", " ({text})"),
        "named_code": ("{name}（{code}）", "{name} ({code})"),
        "system_actor": ("系统", "the system"),
        "stale_form": ("表单已过期，请刷新页面后重试。", "The form is stale; reload the page and try again."),
        "refused": ("请求未被接受，未作任何更改。", "The request was refused; nothing was changed."),
        "main_nav": ("主导航", "Main"),
        "length_m": ("{m} 米", "{m} m"),
        "not_a_number": ("不是数字", "not a number"),
        "quarter": ("{year} 年第 {q} 季度", "Q{q} {year}"),
        "admin_pick_file": ("请选择文件", "choose a file"),
        "admin_not_utf8": ("不是 UTF-8 文本（第 {at} 字节）", "not UTF-8 text (byte {at})"),
        "admin_unknown_layer": ("未知图层", "unknown layer"),
        "admin_bad_json": ("GeoJSON 格式错误（第 {line} 行）", "not valid GeoJSON (line {line}: {why})"),
        "admin_not_collection": ("GeoJSON 应为要素集合（FeatureCollection）", "GeoJSON must be a FeatureCollection"),
        "imported_jurisdictions": ("行政区", "jurisdictions"),
        "imported_people": ("人员", "people"),
        "imported_compacts": ("协作机制", "compacts"),
        "imported_rivers": ("河流", "rivers"),
        "imported_segments": ("河段", "segments"),
        "imported_patrol_quotas": ("巡河考核要求", "patrol quotas"),
        # (end of english)
        # -- the map's closed issues
        "map_closed_choose": ("显示的已销号问题", "Closed issues shown"),
        "map_closed_recent": ("近12个月销号", "Closed in the last 12 months"),
        "map_closed_year": ("{year}年销号", "Closed in {year}"),
        "map_closed_none": ("不显示已销号问题", "No closed issues"),
        "map_closed_hidden": ("已销号问题（未显示）", "Closed issues (not shown)"),
        "map_closed_apply": ("显示", "Show"),
        "map_closed_bad": (
            "“显示的已销号问题”须从列表中选择；现显示近12个月销号的问题。",
            "“Closed issues shown” must be one on the list; showing those closed in the last 12 months.",
        ),
        # (end of the map's closed issues)
    }
)


class Text:
    """The pages' words in one language: ``t("key", name=...)``."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else LANGUAGES[0]
        self._index = LANGUAGES.index(self.lang)

    def __call__(self, key: str, **values: object) -> str:
        words = _TEXT[key][self._index]
        return words.format(**values) if values else words

    @property
    def zh(self) -> bool:
        """Whether this is the Chinese text."""
        return self._index == 0

    # -- the chart's and the policy's words -------------------------------------------------------

    def state(self, name: str) -> str:
        """A state's label."""
        found = CHART.state(name)
        return found.label_zh if self.zh else found.label_en

    def trigger(self, name: str) -> str:
        """A trigger's label, as a heading or a button says it."""
        label = CHART.trigger_label(name, en=not self.zh)
        return label if self.zh else label[:1].upper() + label[1:]

    def field(self, field: Field) -> str:
        """A form field's label (its name only if the chart gave it none)."""
        return (field.label_zh if self.zh else field.label_en) or field.name

    def fields(self, trigger: str) -> dict[str, str]:
        """A trigger's payload fields and their labels, in declaration order."""
        return CHART.field_labels(trigger, en=not self.zh)

    def category(self, code: str) -> str:
        """A category's label; a code the policy no longer knows is said as stored."""
        found = CATEGORIES.get(code)
        if found is None:
            return code
        return found.label_zh if self.zh else found.label_en

    def item(self, code: str) -> str:
        """A checklist item's label."""
        return _ITEMS_ZH[code] if self.zh else CHECKLIST_EN[code]

    def choice(self, code: str) -> str:
        """The label of a choice a CHOICE field offers (a meeting level, a report kind)."""
        return CHOICE_LABELS[code][self._index]

    def period(self, text: str) -> str:
        """A period as the figures name it (2026, 2026-03, 2026-01 – 2026-11), its quarters said in words."""
        return _QUARTER.sub(lambda m: self("quarter", year=m.group(1), q=m.group(2)), text)

    def party(self, value: str) -> str:
        """How someone stands to an issue (reporting side, coordinator...)."""
        return (PARTY_LABELS if self.zh else PARTY_LABELS_EN)[Party(value)]

    def value(self, trigger: str, name: str, value: Any, names: Mapping[str, str]) -> str:
        """A payload value as a reader says it: items and choices by their labels, jurisdictions by name."""
        kind = CHART.field_kinds(trigger).get(name)
        if kind == FieldKind.ITEMS and isinstance(value, list):
            return self("item_sep").join(self.item(v) if v in CHECKLIST_EN else str(v) for v in value)
        if kind == FieldKind.CHOICE and value in CHOICE_LABELS:
            return self.choice(value)
        if kind == FieldKind.PERCENT:
            return f"{value}%"
        if isinstance(value, list):
            return self("item_sep").join(str(v) for v in value)
        return names.get(value, str(value)) if isinstance(value, str) else str(value)

    # -- refusals ----------------------------------------------------------------------------------

    def reason(self, reason: str) -> str:
        """A refusal's reason in this language (one given in a single language is said as given)."""
        if isinstance(reason, Reason):
            return reason.zh if self.zh else reason.en
        return reason

    def errors(self, exc: ValidationFailed) -> dict[str, str]:
        """The refused fields and why, in this language, for the form to show beside each field."""
        out: dict[str, str] = {}
        for name, why in exc.errors:
            said = self.reason(why)
            # Two reasons on one field are both said.
            out[name] = f"{out[name]}{self('list_sep')}{said}" if name in out else said
        return out

    def refusal(self, exc: WorkflowError) -> str:
        """A refusal said as a sentence in this language, for a page that has no form field to show it by."""
        if isinstance(exc, ValidationFailed):
            return self("list_sep").join(
                f"{label}{self('label_sep')}{self.reason(why)}"
                if (label := self._field_label(name))
                else self.reason(why)
                for name, why in exc.errors
            )
        if isinstance(exc, Throttled):
            return self("login_throttled", minutes=max(1, -(-exc.retry_after // 60)))
        for kind, key in _REFUSAL_KEYS:
            if isinstance(exc, kind):
                return self(key)
        return self("refused")

    def field_name(self, name: str) -> str:
        """A refused field's name: its chart label, the page's word for it, else as the form named it."""
        return self._field_label(name) or name

    def _field_label(self, name: str) -> str | None:
        for transition in CHART.transitions:
            for field in transition.fields:
                if field.name == name:
                    return self.field(field)
        return self(name) if name in _TEXT else None


_QUARTER = re.compile(r"\b(\d{4})-Q([1-4])\b")
_ITEMS_ZH = {code: label for category in CATEGORIES.values() for code, label in category.checklist}
# The words for a refusal that names no field, by its kind (the first that fits).
_REFUSAL_KEYS: tuple[tuple[type[WorkflowError], str], ...] = (
    (NotFound, "not_found"),
    (NotPermitted, "forbidden"),
    (CsrfRefused, "stale_form"),
    (Conflict, "stale"),
    (InvalidTransition, "stale"),
)
