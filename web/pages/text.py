"""The pages' own words, in Simplified Chinese and English.

States, triggers and fields take their labels from the chart; this holds the
rest. A missing key is a bug, so lookups raise rather than show the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

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
        "no_actions": ("当前没有需要您办理的操作。", "Nothing for you to do on this issue now."),
        "submit": ("提交", "Submit"),
        "stale": (
            "该问题已被他人更新，请刷新页面后重试。",
            "Someone else changed this issue; reload the page and try again.",
        ),
        "reload": ("刷新", "Reload"),
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
        "blocked": ("需联席会议研究的问题", "Issues for a joint meeting"),
        "revisits_title": ("回头看", "Revisits"),
        "revisit_due": ("计划日期", "Due on"),
        "revisit_round": (
            "第 {cycle} 轮第 {seq} 次（结案后 {days} 天）",
            "Cycle {cycle}, visit {seq} ({days} days after closure)",
        ),
        "reports_title": ("报告与台账", "Reports and ledger"),
        "download": ("下载", "Download"),
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
        "figure_rectified": ("完成整改", "Rectified"),
        "figure_closed": ("办结销号", "Closed"),
        "figure_revisits": ("回头看", "Revisits"),
        "figure_rebounds": ("反弹", "Rebounds"),
        "figure_overdue": ("逾期", "Overdue"),
        "party": ("单位", "Party"),
        "chiefs": ("河长", "Chiefs"),
        "issues": ("问题", "Issues"),
        "by_party": ("各方情况", "By party"),
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
