"""The public label page: what a plain phone camera opens from the QR code.

Chinese first, English with ``?lang=en``. It says whether the label is genuine (the
registry's signature on the code, and the registry's record of issuing it) and gives
the chemical's name, hazard class and first-response advice. Nothing confidential:
no holder, place or quantity. A forged label is journalled with the client's address.
"""

from __future__ import annotations

import html
import json
from datetime import date
from functools import cache
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.catalogs import SHIPPED
from api.routes._common import client_of, service_of
from ledger.codes import SignedCode, parse_label_url, verify_code
from ledger.errors import LedgerError
from ledger.state import GONE, fold_item

router = APIRouter(tags=["public"])
Lang = Literal["zh", "en"]

TEXT = {
    "zh": {
        "title": "危险化学品标签核验",
        "genuine": "标签真实：由登记机构签发",
        "forged": "警告：此标签不是登记机构签发的",
        "unknown": "未找到此编码",
        "retired": "注意：此编码对应的容器已销毁或处置，不应再出现在流通中",
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


def _page(lang: Lang, code: str, verdict: str, rows: list[tuple[str, str]], switch: str) -> str:
    t = TEXT[lang]
    colour = {
        "genuine": "#0a7d32",
        "forged": "#b00020",
        "unknown": "#b00020",
        "retired": "#b26a00",
    }[verdict]
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in rows)
    banner = t["genuine"] if verdict == "retired" else t[verdict]
    note = f"<p class=warn>{t['retired']}</p>" if verdict == "retired" else ""
    return f"""<!doctype html>
<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t["title"]}</title>
<style>body{{font-family:system-ui,sans-serif;margin:0;padding:1rem;max-width:36rem}}
.verdict{{color:#fff;background:{colour};padding:1rem;border-radius:.5rem;font-size:1.2rem}}
dt{{font-weight:600;margin-top:.6rem}}dd{{margin:0}}.warn{{color:#b26a00;font-weight:600}}
a.lang{{float:right}}</style></head><body>
<a class=lang href="{html.escape(switch)}">{t["other"]}</a>
<h1>{t["title"]}</h1>
<p class=verdict id=verdict data-verdict="{verdict}">{banner}</p>{note}
<dl><dt>{t["code"]}</dt><dd id=code>{html.escape(code)}</dd>{items}</dl>
<p>{t["report"]}</p></body></html>"""


def _render(
    request: Request, lang: Lang, code: str, signed: SignedCode | None, forged: bool
) -> HTMLResponse:
    service = service_of(request)
    t = TEXT[lang]
    switch = str(request.url.include_query_params(lang="en" if lang == "zh" else "zh"))
    if forged or signed is None:
        verdict = "forged" if forged else "unknown"
        service.journal(
            "forged_label" if forged else "unknown_label",
            f"public page opened for {verdict} code {code[:40]}",
            client=client_of(request),
            item=code[:64],
        )
        return HTMLResponse(_page(lang, code, verdict, [], switch), status_code=404)
    rows: list[tuple[str, str]] = []
    try:
        catalog = service.deployment.catalogs.current(date.fromisoformat(signed.facts.issued_at))
        chemical, form = catalog.resolve(signed.facts.form)
        rows.append((t["chemical"], chemical.name_cn if lang == "zh" else chemical.name_en))
        if form is not None:
            rows += [(t["un"], form.un), (t["class"], form.transport_class)]
        rows.append((t["hazards"], chemical.ghs_hazards))
        rows.append((t["advice"], advice_for(form.transport_class if form else "", lang)))
    except LedgerError:
        rows.append((t["advice"], advice_for("", lang)))
    state = fold_item(signed.code, (e.event.body for e in service.item_events(signed.code)))
    verdict = "retired" if state.status in GONE else "genuine"
    return HTMLResponse(_page(lang, signed.code, verdict, rows, switch))


@router.get("/c/{code}", response_class=HTMLResponse, summary="The public page of a typed code.")
def typed_code(request: Request, code: str, lang: Lang = "zh") -> HTMLResponse:
    service = service_of(request)
    try:
        signed = service.signed_code(code)
    except LedgerError:
        signed = None
    return _render(request, lang, code, signed, forged=False)


@router.get(
    "/C/{label:path}",
    response_class=HTMLResponse,
    include_in_schema=True,
    summary="The public page a label's QR code opens: checks the label's signature.",
)
def scanned_label(request: Request, label: str, lang: Lang = "zh") -> HTMLResponse:
    service = service_of(request)
    root = service.deployment.keys.root_signer()
    try:
        scanned = parse_label_url("/C/" + label)
        verify_code(scanned, root.algorithm, root.public_key)
    except LedgerError:
        return _render(request, lang, label.split("/")[0], None, forged=True)
    try:
        issued = service.signed_code(scanned.code)
    except LedgerError:
        issued = None
    if issued is None or issued.facts.label_facts() != scanned.facts:
        return _render(request, lang, scanned.code, None, forged=True)
    return _render(request, lang, scanned.code, issued, forged=False)
