"""The responder pack's sheets (``api.pack_sheet``) from a pack built in memory."""

from __future__ import annotations

import io
from pathlib import Path

import pypdf

from api.pack_sheet import CJK_FONT, render_html, render_pdf
from tests.ledger.test_emergency_pack import make


def _text(pdf: bytes) -> str:
    # pypdf reads fpdf2's embedded Identity CMap a byte at a time (see the API test)
    raw = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    return "".join(raw.replace("\x00", "").split())


def test_the_pdf_names_each_site_and_the_district_totals_in_chinese() -> None:
    assert CJK_FONT.is_file(), "fonts-noto-cjk is not installed"
    text = _text(render_pdf(make()))
    assert "alpha仓库" in text and "zeta仓库" in text
    assert "toxic-inhalation40kg-flammable8.5kg" in text


def test_without_the_cjk_font_the_pdf_says_so_and_keeps_the_numbers(tmp_path: Path) -> None:
    text = _text(render_pdf(make(), font=tmp_path / "missing.ttc"))
    assert "CJKfontnotfound" in text
    assert "toxic-inhalation40kg-flammable8.5kg" in text and "alpha" in text


def test_the_html_escapes_what_the_registry_wrote() -> None:
    pack = make()
    pack["sites"][0]["name"] = "<script>alert(1)</script>"
    page = render_html(pack)
    assert "<script" not in page and "&lt;script&gt;" in page
