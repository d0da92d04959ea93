"""Why a step or a form is refused, in Simplified Chinese and English: key -> (zh, en).

The workflow raises a reason by its key with its values (``workflow.core.errors.Reason``); a
page says it in its reader's language, the API and the CLI in the words they have always used.
A value given as a (zh, en) pair is said in each language's own words (a state, a side, an item).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

REASONS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        # -- any field
        "required": ("必填", "is required"),
        "blank": ("不能为空", "must not be blank"),
        "not_text": ("须为文本", "must be text"),
        "not_valid_text": ("含有无效字符", "contains characters that are not valid text (lone surrogates)"),
        "too_long": ("不能超过 {n} 个字符", "is longer than {n} characters"),
        "not_a_date": ("“{value}”不是有效日期", "{value!r} is not a date (YYYY-MM-DD)"),
        "not_a_choice": ("“{value}”不是可选项", "{value!r} is not one of {choices}"),
        "not_items": ("须为核查项列表", "must be a list of item codes"),
        "not_whole": ("“{value}”不是整数", "{value!r} is not a whole number"),
        "between": ("须在 {low} 与 {high} 之间", "must be between {low} and {high}"),
        # -- a report
        "no_compact": ("没有编号为 {code} 的协作机制", "no compact with code {code!r}"),
        "no_segment": ("没有编号为 {code} 的河段", "no segment with code {code!r}"),
        "segment_not_in_compact": ("该河段不属于协作机制 {compact}", "{code!r} is not a segment of compact {compact}"),
        "position_needs_both": ("位置须同时有经度和纬度", "a position needs both lon and lat"),
        # -- the guards of a step (workflow.core.rules)
        "no_jurisdiction": ("没有编号为 {code} 的行政区", "no jurisdiction with code {code!r}"),
        "own_side": (
            "{name}（{code}）是发现方本方的行政区，请交给对方",
            "{name} ({code}) is the reporting side's own jurisdiction; hand off to the other side",
        ),
        "not_compact_member": ("{name}不是本问题所属协作机制的成员", "{name} is not a member of this issue's compact"),
        "deadline_past": ("{deadline} 已过（今天是 {today}）", "{deadline} is in the past (today is {today})"),
        "already_signed": ("{side}已签认本轮复核", "the {side} has already signed this check round"),
        "checklist_when_both": (
            "双方签认后本轮核查清单须全部确认，尚缺：{missing}",
            "with both sides signed, every checklist item must be confirmed; missing: {missing}",
        ),
        "unknown_items": (
            "{unknown} 不是本类问题的核查项",
            "unknown item(s) {unknown}; this category's items are {known}",
        ),
        "both_sides_sign": (
            "销号须双方签认，尚缺：{missing}",
            "closure needs both sides' sign-off; missing: {missing}",
        ),
        "items_unconfirmed": ("核查清单尚未全部确认：{missing}", "items not yet confirmed: {missing}"),
        "archive_needs_clean_revisit": (
            "须先完成一次未发现反弹的回头看",
            "archiving needs a revisit that found no rebound",
        ),
        "no_issue_in_compact": ("本协作机制没有编号为 {code} 的问题", "no issue {code!r} in this issue's compact"),
        "is_itself": (
            "{code} 就是本问题，请填写它所重复的问题",
            "{code} is this issue itself; name the issue it repeats",
        ),
        "is_duplicate": (
            "{code} 本身是重复上报，请填写它所合并到的问题",
            "{code} is itself a duplicate; name the issue it was merged into",
        ),
        "not_open": (
            "{code} 已不在办理中（{state}），只能合并到办理中的问题",
            "{code} is no longer open ({state}); only an open issue takes a duplicate",
        ),
        "report_not_filed": (
            "没有该 SHA-256 的已存档报告；报告由 riverchief report 存档",
            "no filed report has this SHA-256; reports are filed by `riverchief report`",
        ),
        "evidence_not_stored": (
            "本步骤没有该 SHA-256 的已存材料；请先用 riverchief issue attach 上传",
            "no stored evidence with this SHA-256 for this step; upload it with `riverchief issue attach`",
        ),
        "not_duplicate_here": (
            "{code} 未被标记为本问题的重复上报，请先标记为重复",
            "{code!r} is not marked a duplicate of this issue; mark it so with mark_duplicate",
        ),
        "duplicate_already_linked": ("{code} 已关联到本问题", "{code} is already linked to this issue"),
        # -- the issue list's filters (workflow.reading.issues)
        "unknown_filter": ("“{value}”不是可选的{what}", "unknown {what} {value!r}; {kinds}: {known}"),
        "one_of": ("不是可选项", "must be one of {choices}"),
        "no_river": ("没有编号为 {code} 的河流", "no river with code {code!r}"),
        # -- joint meetings and action items (workflow.meetings)
        "text_length": ("共 {length} 个字，最多 {n} 个字", "is {length} characters; at most {n}"),
        "meeting_year": ("{year} 年不是可以召开会议的年份", "{year} is not a year a meeting is held in"),
        "over_a_year_ahead": ("不能晚于一年以后", "is more than a year ahead"),
        "over_ten_years_ago": ("不能早于十年以前", "is more than ten years ago"),
        "no_issue_here": ("本协作机制没有编号为 {code} 的问题", "no issue {code!r} in this compact"),
        "not_a_person_here": ("{code} 不是本协作机制的人员", "{code!r} is not a person of this compact"),
        "agenda_twice": ("{codes} 在议程中重复", "{codes} is on the agenda twice"),
        "say_level_reason": (
            "会议层级与建议层级（{suggested}）不同，请说明理由",
            "say why the meeting is not at the suggested level ({suggested})",
        ),
        "meeting_cancelled": ("会议已取消", "the meeting was cancelled"),
        "meeting_cancelled_new": ("会议已取消，请另行召开", "the meeting was cancelled; convene a new one"),
        "attendance_from_day": (
            "会议在 {day} 召开，当天起才能登记出席情况",
            "the meeting is on {day}; record who came from that day on",
        ),
        "not_invited": ("未受邀参加本次会议", "was not invited to this meeting"),
        "not_on_agenda": ("{issue} 不在本次会议的待议定问题中", "{issue} is not on this meeting's agenda to decide"),
        "decisions_from_day": (
            "会议在 {day} 召开，当天起才能记录议定事项",
            "the meeting is on {day}; record its decisions from that day on",
        ),
        "decided_already": ("{issue} 已在本次会议议定", "{issue} was decided at this meeting already"),
        "day_past": ("{day} 已过", "{day} is in the past"),
        "over_three_years": ("{day} 晚于三年以后", "{day} is more than three years ahead"),
        "not_member_here": ("{name}不是本协作机制的成员", "{name} is not a member of this compact"),
        "no_meeting_here": ("本协作机制没有编号为 {code} 的会议", "no meeting {code!r} in this compact"),
        "action_settled": ("该督办事项已办结", "the action item is {status} already"),
        # -- joint enforcement cases and leads (workflow.enforcement), said "中文 (English)" by the API
        "case_kind": ("不是可选的案件类型", "{kind!r} is not one of {kinds}"),
        "not_after_today": ("不能晚于今天 {today}", "{value} is in the future"),
        "not_before": ("不能早于 {day}", "{value} is before {what} {day}"),
        "enf_too_long": ("不能超过 {n} 个字", "is longer than {n} characters"),
        "no_compact_known": ("没有这个协作机制", "no compact with code {code!r}"),
        "no_jurisdiction_known": ("没有这个行政区", "no jurisdiction with code {code!r}"),
        "not_within_members": ("{name} 不在本协作机制内", "{code} is not within the compact's members"),
        "no_issue_with_code": ("本协作机制没有这个问题", "no issue with code {code!r} in this compact"),
        "two_parties": ("联合执法须有两个以上不同的行政区", "a joint case has two or more jurisdictions"),
        "case_closed_on": ("已于 {day} 结案", "{code} was closed on {day}"),
        "case_closed_already": ("案件已于 {day} 结案", "{code} was closed on {day}"),
        "no_case_here": ("没有这个联合执法案件", "no enforcement case {code!r} in this compact"),
        "no_case_seen": ("没有这个联合执法案件", "no enforcement case {code!r} that {actor} may see"),
        "receipt_recorded": ("已登记回执 {receipt}", "a receipt was recorded: {receipt}"),
        "outcome_recorded": ("已登记处理结果", "an outcome was recorded: {outcome}"),
    }
)
