"""The responder pack as a sheet to keep: self-contained HTML and a PDF (``fpdf2``).

Both render a verified-shape pack (:mod:`ledger.emergency_pack`) and add nothing to it:
the JSON is the signed evidence, the sheets are its printout, each naming the checkpoint
and the pack digest so a printed page can be matched to the signed file. The HTML has
inline CSS only, no script and no external fetch; Chinese first, English beside.

The PDF embeds Noto Sans CJK SC (Debian ``fonts-noto-cjk``) so Chinese renders; without
the font it falls back to a core font, prints English only and says so on the sheet.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from fpdf import FPDF
from jinja2 import Environment, select_autoescape

from ledger.emergency_pack import pack_digest

CJK_FONT: Final = Path(
    os.environ.get("CHEMTRACE_CJK_FONT", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
)
CJK_SC_INDEX: Final = 2
"""Noto Sans CJK SC's place in the collection (JP, KR, SC, TC, HK, then the Mono ones)."""

TEMPLATE: Final = Path(__file__).parent / "console" / "templates" / "responder_pack.html"
"""Standalone: it extends no console page, so it carries no script or stylesheet link."""

_ENV: Final = Environment(autoescape=select_autoescape(default=True), keep_trailing_newline=True)


def render_html(pack: Mapping[str, Any]) -> str:
    """The pack as one self-contained HTML page."""
    template = _ENV.from_string(TEMPLATE.read_text(encoding="utf-8"))
    return template.render(p=pack, t=pack["district_totals"],
                                          digest=pack_digest(pack))  # fmt: skip


def render_pdf(pack: Mapping[str, Any], font: Path = CJK_FONT) -> bytes:
    """The pack as a PDF sheet (A4), Chinese with English beside when the CJK font is
    there."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    cjk = font.is_file()
    if cjk:
        index = CJK_SC_INDEX if font.suffix.lower() == ".ttc" else 0
        pdf.add_font("cjk", fname=str(font), collection_font_number=index)
    pdf.add_page()

    def say(text: str, size: float = 9, zh: str = "") -> None:
        pdf.set_font("cjk" if cjk else "helvetica", size=size)
        line = f"{zh} {text}" if zh and cjk else text
        pdf.multi_cell(0, size * 0.5, line if cjk else _latin(line),
                       new_x="LMARGIN", new_y="NEXT")  # fmt: skip

    totals = pack["district_totals"]
    say(f"Responder pack - {pack['district']}", 15, "应急处置包")
    if not cjk:
        say(f"(CJK font not found at {font}: Chinese names are omitted; see pack.html)", 8)
    say(f"checkpoint {pack['origin']} size {pack['log_size']} - cut {pack['created_at']}", 8,
        "检查点")  # fmt: skip
    say(f"digest {pack_digest(pack)}", 7, "摘要")
    say(f"toxic-inhalation {totals['toxic_inhalation_kg']} kg - flammable "
        f"{totals['flammable_kg']} kg - {totals['sites']} sites - {totals['items']} items", 11,
        "有毒吸入/易燃")  # fmt: skip
    for h in totals["totals_by_hazard_class"]:
        say(f"class {h['hazard_class']}: {h['items']} items, {h['kilograms']} kg", 9, "危险类别")
    for site in pack["sites"]:
        pdf.ln(2)
        say(f"{site['site']} - {site['organisation_name']}", 12, str(site["name"]))
        say(
            f"WGS-84 {site['lat']}, {site['lon']} - toxic-inhalation "
            f"{site['toxic_inhalation_kg']} kg - flammable {site['flammable_kg']} kg",
            9,
        )
        for c in site["totals_by_chemical"]:
            say(f"{c['chemical']} CAS {c['cas'] or '-'} UN {c['un'] or '-'}: {c['items']} items, "
                f"{c['kilograms']} kg", 9, str(c["chemical_name"]))  # fmt: skip
        for h in site["totals_by_hazard_class"]:
            say(f"class {h['hazard_class']}: {h['kilograms']} kg", 8)
        for a in site["emergency_advice"]:
            say(f"{a['chemical_name']}: {a['advice']}", 8, "处置")
        contacts = "; ".join(f"{c['role']} {c['name'] or '-'}" for c in site["contacts"])
        say(f"contacts: {contacts}", 8, "联系")
    pdf.ln(2)
    say("Verify offline: chemtrace emergency verify-pack DIR --log-key log.vkey", 8, "核验")
    return bytes(pdf.output())


def _latin(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


__all__ = ["render_html", "render_pdf"]
