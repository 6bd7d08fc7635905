"""The console's two languages (Chinese first) and Beijing time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Final, Literal

from ledger.risk import Reason
from ledger.timefmt import parse_utc

Lang = Literal["zh", "en"]
LANG_COOKIE: Final = "chemtrace_lang"
BEIJING: Final = timezone(timedelta(hours=8), "CST")

TEXT: Final[dict[str, tuple[str, str]]] = {
    "app": ("危险化学品追溯监管平台", "Hazardous chemicals traceability console"),
    "skip": ("跳到正文", "Skip to content"),
    "nav": ("主导航", "Main navigation"),
    "dashboard": ("总览", "Dashboard"),
    "search": ("搜索", "Search"),
    "findings": ("预警研判", "Findings"),
    "map": ("一张图", "Map"),
    "emergency": ("应急查询", "Emergency"),
    "journal": ("安全日志", "Security journal"),
    "docs": ("API 文档", "API docs"),
    "logout": ("退出", "Log out"),
    "login": ("登录", "Log in"),
    "token": ("用户令牌", "User token"),
    "token_help": (
        "粘贴管理员为您签发的 API 令牌（ct_…）。令牌只用于换取会话，不保存在浏览器中。",
        "Paste the API token (ct_…) the administrator issued you. It is exchanged "
        "for a session and not kept in the browser.",
    ),
    "login_failed": (
        "令牌无效、已吊销，或用户已停用。",
        "Unknown or revoked token, or a disabled user.",
    ),
    "session_ended": ("会话已结束，请重新登录。", "Your session ended; please log in again."),
    "signed_in_as": ("当前用户", "Signed in as"),
    "role": ("角色", "Role"),
    "lang_switch": ("English", "中文"),
    "open_findings": ("未处置预警", "Open findings"),
    "by_severity": ("按严重程度", "By severity"),
    "by_rule": ("按规则", "By rule"),
    "by_district": ("按区", "By district"),
    "over_time": ("预警趋势（按日）", "Findings over time (per day)"),
    "holdings": ("在库物品与数量", "Items and quantities held"),
    "by_category": ("按类别", "By category"),
    "log": ("日志与检查点", "Log and checkpoint"),
    "log_size": ("日志条目数", "Log entries"),
    "checkpoint_size": ("检查点覆盖", "Checkpoint covers"),
    "checkpoint_age": ("检查点时间", "Checkpoint signed"),
    "recent_signals": ("近期欺诈信号", "Recent fraud signals"),
    "severity": ("严重程度", "Severity"),
    "rule": ("规则", "Rule"),
    "district": ("区", "District"),
    "count": ("数量", "Count"),
    "items": ("物品", "Items"),
    "kilograms": ("千克", "kg"),
    "category": ("类别", "Category"),
    "query": ("查询内容", "Search for"),
    "query_help": (
        "追溯码、CAS 号、UN 号、化学品名称、批号、运单号、车牌、单位或场所",
        "Code, CAS, UN number, chemical name, lot, waybill, plate, organisation or site",
    ),
    "no_results": ("没有找到结果。", "Nothing found."),
    "chemical": ("化学品", "Chemical"),
    "code": ("追溯码", "Code"),
    "status": ("状态", "Status"),
    "holder": ("持有单位", "Holder"),
    "site": ("场所", "Site"),
    "sites": ("场所", "Sites"),
    "quantity": ("数量", "Quantity"),
    "time": ("时间", "Time"),
    "event": ("事件", "Event"),
    "timeline": ("流向时间线", "Custody timeline"),
    "verification": ("验证", "Verification"),
    "verify": ("验证链、包含证明与检查点", "Verify chain, inclusion and checkpoint"),
    "label": ("标签", "Label"),
    "path": ("轨迹", "Path on the map"),
    "organisation": ("单位", "Organisation"),
    "inventory": ("库存", "Inventory"),
    "at_time": ("查询时刻（北京时间）", "At (Beijing time)"),
    "now": ("现在", "now"),
    "show": ("查询", "Show"),
    "gauge": ("重大危险源辨识 Σq/Q（GB 18218）", "Major hazard Σq/Q (GB 18218)"),
    "storage_groups": ("储存分组与禁忌", "Storage groups and clashes"),
    "clash": ("禁忌", "Clash"),
    "bundle": ("下载场所离线证据包", "Download the site bundle"),
    "licences": ("许可证", "Licences"),
    "risk": ("风险等级", "Risk grade"),
    "reasons": ("依据", "Reasons"),
    "points": ("{n} 分", "{n} points"),
    "weights": ("权重版本", "Weights"),
    "grade_scale": ("分级", "Grades"),
    "filter": ("筛选", "Filter"),
    "group_by": ("分组", "Group by"),
    "none": ("不分组", "none"),
    "all": ("全部", "all"),
    "select": ("选择", "Select"),
    "action": ("处置", "Action"),
    "acknowledged": ("已确认", "acknowledged"),
    "resolved": ("已解决", "resolved"),
    "false_positive": ("误报", "false positive"),
    "comment": ("理由", "Reason"),
    "apply": ("提交", "Apply"),
    "evidence": ("证据事件", "Evidence events"),
    "message": ("说明", "Message"),
    "history": ("处置记录", "History"),
    "read_only": ("您的角色只能查看预警。", "Your role may view findings, not move them."),
    "lat": ("纬度（WGS-84）", "Latitude (WGS-84)"),
    "lon": ("经度（WGS-84）", "Longitude (WGS-84)"),
    "radius": ("半径（米）", "Radius (m)"),
    "nearby": ("周边危险物质", "Hazardous material nearby"),
    "print": ("打印处置单", "Print the responder sheet"),
    "click_map": (
        "点击地图选取位置，或输入坐标。",
        "Click the map to pick a point, or type coordinates.",
    ),
    "distance": ("距离（米）", "Distance (m)"),
    "toxic_kg": ("吸入毒性（千克）", "Toxic by inhalation (kg)"),
    "flammable_kg": ("易燃（千克）", "Flammable (kg)"),
    "advice": ("应急处置建议", "Emergency advice"),
    "contacts": ("联系人", "Contacts"),
    "shipments": ("在途运输", "Shipments in transit"),
    "responder_pack": ("离线应急资料包（按区）", "Offline responder pack (by district)"),
    "format": ("格式", "Format"),
    "signed": ("已签名", "signed"),
    "download": ("下载", "Download"),
    "forbidden": ("您的角色无权访问此页面。", "Your role may not open this page."),
    "not_found": ("未找到，或不在您的管辖范围内。", "Not found, or outside your scope."),
    "colour_by": ("着色依据", "Colour sites by"),
    "layers": ("图层", "Layers"),
    "legend": ("图例", "Legend"),
    "beijing_time": ("北京时间", "Beijing time"),
    "journal_code": ("类型", "Kind"),
    "detail": ("详情", "Detail"),
    "seen": ("次数", "Seen"),
    "first_seen": ("首次", "First seen"),
    "last_seen": ("最近", "Last seen"),
    "page_error": ("出错了", "Something went wrong"),
    "csrf": (
        "表单已失效（CSRF 校验失败），请刷新页面后重试。",
        "The form expired (CSRF check failed); reload the page and try again.",
    ),
    "assets_missing": ("浏览器资源未安装", "Browser assets not installed"),
    "transitioned": ("已处置 {n} 条预警。", "{n} finding(s) moved."),
    "transition_failed": ("未能处置", "Not moved"),
    "in_transit": ("在途", "in transit"),
    "active": ("在库", "active"),
    "type": ("类型", "Type"),
    "valid": ("有效期", "Valid"),
    "offline_base": (
        "离线底图：北京市区界（echarts 4.9.0 数据）",
        "Offline base map: Beijing districts (echarts 4.9.0 data)",
    ),
    "enterprise": ("企业画像", "Enterprise"),
    "ratio": ("Σq/Q", "Σq/Q"),
    "result_items": ("物品", "Items"),
    "found_by_lot": ("批号相符的物品", "Items of this lot"),
    "found_by_waybill": ("运单号相符的物品", "Items on this waybill"),
    "result_chemicals": ("化学品", "Chemicals"),
    "result_records": ("单位与场所", "Organisations and sites"),
    "result_vehicles": ("车辆", "Vehicles"),
    "holdings_of": ("持有物品", "Holdings"),
    "coordinates": ("坐标", "Coordinates"),
    "gone": ("已销毁/处置", "gone"),
}


REASONS: Final[dict[str, tuple[str, str]]] = {
    "finding": (
        "{count} 条未处置预警（{severity}）× {each}",
        "{count} open {severity} finding(s) × {each}",
    ),
    "hazard_ratio": (
        "场所 {site} 的 Σq/Q 为 {ratio}（≥ {at_least}）",
        "site {site}: Σq/Q {ratio} ≥ {at_least}",
    ),
    "organisation_inactive": ("单位状态为{status}", "the organisation is {status}"),
    "held_unlicensed": (
        "持有化学品 {chemical}（{category}），无相应许可证或购买许可/备案",
        "holds chemical {chemical} ({category}) with no licence or permit for it",
    ),
    "licence_lapsed": (
        "许可证 {licence} {why}，且无同类有效许可证",
        "licence {licence} {why}, and none of its kind is valid",
    ),
    "licence_expiring": (
        "许可证 {licence} 将于 {until} 到期（{days} 天内），无续期",
        "licence {licence} ends {until} (within {days} days), with no successor",
    ),
    "category": ("持有{category}", "holds {category}"),
    "category_cap": ("持有类别合计最多计 {cap} 分", "categories held count at most {cap}"),
    "inspection": (
        "近 {days} 天检查结论为“{outcome}” {count} 次 × {each}",
        "{count} inspection(s) with outcome {outcome} in {days} days × {each}",
    ),
    "inspection_none": (
        "近 {days} 天账本中没有检查记录（不计分）",
        "no inspection recorded in the ledger in {days} days (no points)",
    ),
}
"""Each risk-grade reason (``ledger.risk.Reason.code``) as a sentence over its facts."""
WORDS: Final[dict[str, tuple[str, str]]] = {
    "critical": ("严重", "critical"),
    "high": ("高", "high"),
    "medium": ("中", "medium"),
    "low": ("低", "low"),
    "expired": ("已过期", "expired"),
    "suspended": ("已暂停", "suspended"),
    "revoked": ("已吊销", "revoked"),
    "closed": ("已关闭", "closed"),
    "pass": ("合格", "pass"),
    "fail": ("不合格", "fail"),
    "observation": ("观察项", "observation"),
    "highly_toxic": ("剧毒化学品", "highly toxic chemicals"),
    "toxic_gas": ("有毒气体", "toxic gases"),
    "explosive_precursor": ("易制爆危险化学品", "explosive precursors"),
    "drug_precursor_cat1": ("第一类易制毒化学品", "category 1 drug precursors"),
    "drug_precursor_cat2": ("第二类易制毒化学品", "category 2 drug precursors"),
    "drug_precursor_cat3": ("第三类易制毒化学品", "category 3 drug precursors"),
    "specially_controlled_2020": ("特别管控危险化学品", "specially controlled chemicals (2020)"),
    "pyrophoric": ("自燃物品", "pyrophoric substances"),
    "key_supervised_national": ("重点监管危险化学品", "key supervised chemicals"),
    "key_supervised_national_batch2": (
        "重点监管危险化学品（第二批）",
        "key supervised chemicals (batch 2)",
    ),
}
"""The facts' words a reason names (severities, statuses, outcomes, catalog categories)."""
_TRANSLATED: Final = frozenset({"severity", "why", "status", "outcome", "category"})


def reason_text(lang: Lang, reason: Reason) -> str:
    """A risk-grade reason as a sentence in ``lang`` (its code if the console has none)."""
    pair = REASONS.get(reason.code)
    if pair is None:
        return reason.code
    values: dict[str, object] = {}
    for name, value in reason.facts.items():
        if name in _TRANSLATED and str(value) in WORDS:
            value = WORDS[str(value)][0 if lang == "zh" else 1]
        elif name == "until":
            value = beijing(str(value))[:10]
        values[name] = value
    return (pair[0] if lang == "zh" else pair[1]).format(**values)


def text(lang: Lang, key: str, **values: object) -> str:
    pair = TEXT.get(key)
    if pair is None:
        return key
    phrase = pair[0] if lang == "zh" else pair[1]
    return phrase.format(**values) if values else phrase


def beijing(moment: str | datetime | None) -> str:
    """A UTC time as Beijing wall time, the zone written out (``2026-10-01 16:00:00 UTC+8``)."""
    if moment is None or moment == "":
        return "—"
    when = parse_utc(moment) if isinstance(moment, str) else moment
    return when.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S UTC+8")


def beijing_input(moment: str | None) -> str:
    """A UTC time as the value of a ``datetime-local`` field in Beijing time."""
    if not moment:
        return ""
    return parse_utc(moment).astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M")


def from_beijing_input(value: str) -> str:
    """A ``datetime-local`` value (Beijing wall time) as RFC 3339 UTC ``Z``."""
    local = datetime.fromisoformat(value).replace(tzinfo=BEIJING)
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
