"""The public label page: what a plain phone camera opens from the QR code.

Chinese first, English with ``?lang=en``. It says whether the label is genuine (the
registry's signature on the code, and the registry's record of issuing it) and the item in
good standing, and gives the chemical's name, hazard class and first-response advice. An
item reported lost or stolen, or disposed of or destroyed, gets a warning instead of
"genuine". Nothing confidential: no holder, place or quantity.

Each client address may open :data:`PUBLIC_VIEWS_PER_MINUTE` pages a minute (then a 429
page with Retry-After). A forged or unknown code is journalled with the client's address,
one row per client, code and window however often it is opened.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from datetime import date
from functools import cache
from typing import Any, Final, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.catalogs import SHIPPED
from api.routes._common import client_of, service_of
from api.services.queries import LoggedEvent
from ledger.codes import SignedCode, normalise_code, parse_label_url
from ledger.errors import LedgerError
from ledger.events import ReportLoss
from ledger.state import GONE, fold_item

router = APIRouter(tags=["public"])
Lang = Literal["zh", "en"]
Verdict = Literal["genuine", "forged", "unknown", "retired", "lost", "stolen", "busy"]
PUBLIC_VIEWS_PER_MINUTE: Final = 120
"""Public pages per client address per minute: far more than anyone scanning labels by
hand opens, even many phones behind one carrier address, and a cap on what one address
can cost the database and the journal."""

TEXT = {
    "zh": {
        "title": "危险化学品标签核验",
        "genuine": "标签真实：由登记机构签发",
        "forged": "警告：此标签不是登记机构签发的",
        "unknown": "未找到此编码",
        "retired": "注意：此编码对应的容器已销毁或处置，不应再出现在流通中",
        "retired_note": (
            "标签由登记机构签发，但此容器已登记为销毁或处置。如发现其仍在使用，请举报。"
        ),
        "lost": "警告：此容器已被报告遗失",
        "lost_note": (
            "标签由登记机构签发，但持有单位已报告此容器遗失。请勿使用或移动，并立即举报。"
        ),
        "stolen": "警告：此容器已被报告被盗",
        "stolen_note": (
            "标签由登记机构签发，但持有单位已报告此容器被盗。请勿使用或移动，并立即拨打 110 报警。"
        ),
        "busy": "查询过于频繁，请稍后再试",
        "busy_note": "来自此网络地址的查询过多，请在 {seconds} 秒后重试。",
        "chemical": "化学品",
        "un": "联合国编号",
        "class": "危险类别",
        "hazards": "危险性",
        "advice": "应急处置",
        "report": "如发现可疑标签，请拨打 12350 举报。",
        "other": "English",
        "code": "编码",
    },
    "en": {
        "title": "Hazardous chemical label check",
        "genuine": "Genuine label: issued by the registry",
        "forged": "Warning: this label was NOT issued by the registry",
        "unknown": "No such code",
        "retired": (
            "Note: the container with this code was destroyed or disposed of;"
            " it should not be in circulation"
        ),
        "retired_note": (
            "The label was issued by the registry, but this container is recorded as destroyed"
            " or disposed of. If it is still in use, report it."
        ),
        "lost": "Warning: this container has been reported lost",
        "lost_note": (
            "The label was issued by the registry, but the holder reported this container lost."
            " Do not use or move it; report it at once."
        ),
        "stolen": "Warning: this container has been reported stolen",
        "stolen_note": (
            "The label was issued by the registry, but the holder reported this container"
            " stolen. Do not use or move it; call the police (110) at once."
        ),
        "busy": "Too many requests: please try again shortly",
        "busy_note": "Too many checks from this network address; try again in {seconds} s.",
        "chemical": "Chemical",
        "un": "UN number",
        "class": "Hazard class",
        "hazards": "Hazards",
        "advice": "Emergency advice",
        "report": "Report suspicious labels to 12350.",
        "other": "中文",
        "code": "Code",
    },
}


@cache
def _advice() -> dict[str, dict[str, str]]:
    raw = json.loads((SHIPPED / "emergency-advice.json").read_text(encoding="utf-8"))
    return {k: v for k, v in raw.items() if not k.startswith("_")}


def advice_for(transport_class: str, lang: Lang) -> str:
    table = _advice()
    for key in (transport_class, transport_class.split(".")[0], "default"):
        if key in table:
            return table[key][lang]
    return table["default"][lang]


_COLOURS: Final[dict[Verdict, str]] = {
    "genuine": "#0a7d32",
    "forged": "#b00020",
    "unknown": "#b00020",
    "retired": "#b26a00",
    "lost": "#b00020",
    "stolen": "#b00020",
    "busy": "#5f6368",
}


def _page(
    lang: Lang, code: str, verdict: Verdict, rows: list[tuple[str, str]], switch: str,
    note: str = "",
) -> str:  # fmt: skip
    t = TEXT[lang]
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in rows)
    note = note or t.get(f"{verdict}_note", "")
    warning = f"<p class=warn>{html.escape(note)}</p>" if note else ""
    return f"""<!doctype html>
<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t["title"]}</title>
<style>body{{font-family:system-ui,sans-serif;margin:0;padding:1rem;max-width:36rem}}
.verdict{{color:#fff;background:{_COLOURS[verdict]};padding:1rem;border-radius:.5rem;font-size:1.2rem}}
dt{{font-weight:600;margin-top:.6rem}}dd{{margin:0}}.warn{{color:#b26a00;font-weight:600}}
a.lang{{float:right}}</style></head><body>
<a class=lang href="{html.escape(switch)}">{t["other"]}</a>
<h1>{t["title"]}</h1>
<p class=verdict id=verdict data-verdict="{verdict}">{t[verdict]}</p>{warning}
<dl><dt>{t["code"]}</dt><dd id=code>{html.escape(code)}</dd>{items}</dl>
<p>{t["report"]}</p></body></html>"""


def _switch(request: Request, lang: Lang) -> str:
    # Relative (query only): behind a TLS proxy the request's own scheme and host are not
    # the ones the phone used.
    query = {**request.query_params, "lang": "en" if lang == "zh" else "zh"}
    return "?" + urlencode(query)


def _over_limit(request: Request, lang: Lang, code: str) -> HTMLResponse | None:
    """The 429 page when this client has opened too many public pages this minute."""
    wait = service_of(request).accel.allow(
        f"public:{client_of(request)}", 1, PUBLIC_VIEWS_PER_MINUTE
    )
    if wait is None:
        return None
    seconds = max(1, math.ceil(wait))
    note = TEXT[lang]["busy_note"].format(seconds=seconds)
    page = _page(lang, code, "busy", [], _switch(request, lang), note)
    return HTMLResponse(page, status_code=429, headers={"Retry-After": str(seconds)})


def _journalled_code(code: str) -> str:
    """The code as the journal keys it: printed form when it is one, so spellings of one
    code are one row."""
    try:
        return normalise_code(code)
    except LedgerError:
        return code[:64]


def _standing(status: str, events: Sequence[LoggedEvent]) -> Verdict:
    """``genuine`` only for an item in good standing (active, or in transit with a carrier)."""
    if status in GONE:
        return "retired"
    if status == "lost":
        reports = [e.event.body for e in events if isinstance(e.event.body, ReportLoss)]
        return "stolen" if reports and reports[-1].data.kind == "theft" else "lost"
    return "genuine"


def _render(
    request: Request, lang: Lang, code: str, signed: SignedCode | None, forged: bool
) -> HTMLResponse:
    service = service_of(request)
    t = TEXT[lang]
    switch = _switch(request, lang)
    if forged or signed is None:
        verdict: Verdict = "forged" if forged else "unknown"
        service.journal.journal(
            "forged_label" if forged else "unknown_label",
            f"public page opened for {verdict} code {code[:40]}",
            client=client_of(request),
            item=_journalled_code(code),
            aggregate_by="client",
        )
        return HTMLResponse(_page(lang, code, verdict, [], switch), status_code=404)
    rows: list[tuple[str, str]] = []
    try:
        catalog = service.registry.catalog(date.fromisoformat(signed.facts.issued_at))
        chemical, form = catalog.resolve(signed.facts.form)
        rows.append((t["chemical"], chemical.name_cn if lang == "zh" else chemical.name_en))
        if form is not None:
            rows += [(t["un"], form.un), (t["class"], form.transport_class)]
        rows.append((t["hazards"], chemical.ghs_hazards))
        rows.append((t["advice"], advice_for(form.transport_class if form else "", lang)))
    except LedgerError:
        rows.append((t["advice"], advice_for("", lang)))
    events = service.queries.item_events(signed.code)
    state = fold_item(signed.code, (e.event.body for e in events), service.queries.units.kilograms)
    return HTMLResponse(_page(lang, signed.code, _standing(state.status, events), rows, switch))


PAGES: Final[dict[int | str, dict[str, Any]]] = {
    200: {"description": "The page: genuine, retired, lost or stolen (`data-verdict`)"},
    404: {
        "description": "The page saying the code is unknown, or the label forged",
        "content": {"text/html": {"schema": {"type": "string"}}},
    },
    429: {
        "description": f"The page saying to come back later (over {PUBLIC_VIEWS_PER_MINUTE} "
        "pages a minute from this address)",
        "content": {"text/html": {"schema": {"type": "string"}}},
    },
}
"""What the public pages answer: HTML, for a phone's browser."""
LABEL_PAGES: Final[dict[int | str, dict[str, Any]]] = {
    **PAGES,
    404: {
        "description": f"{PAGES[404]['description']}; a path no label has (a line break in "
        "it, say) is not routed at all: a `not_found` problem",
        "content": {
            **PAGES[404]["content"],
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemBody"}},
        },
    },
}


@router.get(
    "/c/{code}",
    response_class=HTMLResponse,
    responses=PAGES,
    summary="The public page of a typed code.",
)
def typed_code(request: Request, code: str, lang: Lang = "zh") -> HTMLResponse:
    if (limited := _over_limit(request, lang, code)) is not None:
        return limited
    registry = service_of(request).registry
    try:
        signed = registry.signed_code(code)
    except LedgerError:
        signed = None
    return _render(request, lang, code, signed, forged=False)


@router.get(
    "/C/{label:path}",
    response_class=HTMLResponse,
    responses=LABEL_PAGES,
    include_in_schema=True,
    summary="The public page a label's QR code opens: checks the label's signature.",
)
def scanned_label(request: Request, label: str, lang: Lang = "zh") -> HTMLResponse:
    if (limited := _over_limit(request, lang, label.split("/")[0])) is not None:
        return limited
    registry = service_of(request).registry
    try:
        scanned = parse_label_url("/C/" + label)
        registry.verify_label(scanned)
    except LedgerError:
        return _render(request, lang, label.split("/")[0], None, forged=True)
    try:
        issued = registry.signed_code(scanned.code)
    except LedgerError:
        issued = None
    if issued is None or issued.facts.label_facts() != scanned.facts:
        return _render(request, lang, scanned.code, None, forged=True)
    return _render(request, lang, scanned.code, issued, forged=False)
