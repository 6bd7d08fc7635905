"""Signs of cloned or forged labels that never reached the log (brief §5). Pure.

``clone.unissued_code``: the service refused a write or a public scan because the code
was never issued, was issued to another enterprise, or its label signature is forged, or
because the writer has no relation to the item (``not_related``: a copied label scanned
by a stranger, or a probe for another enterprise's item; see ``ledger.custody``);
the security journal keeps those refusals, and each code/organisation pair is one finding.
Repeats from one client or device in one window are one journal row with a count; the
finding comes from the row, once, whatever its count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Final

from ledger.rules.facts import JournalFact
from ledger.rules.findings import Finding
from ledger.rules.state import RuleState

CLONE_SIGNS: Final = {
    "unknown_code": "a code no registry batch issued",
    "code_issued_to_another_org": "a code issued to another enterprise",
    "forged_label": "a label whose registry signature is forged",
    "unknown_label": "a label for a code the registry never issued",
    "not_related": "the code of an item it never held, shipped, carried or was consigned",
}


def on_journal(st: RuleState, entry: JournalFact) -> Iterator[Finding | None]:
    what = CLONE_SIGNS.get(entry.code)
    if what is None:
        return
    item = entry.item or "?"
    actor = entry.org or "someone"
    found = st.finding(
        "clone.unissued_code", f"{item}:{entry.org}:{entry.code}", entry.at,
        f"{actor} presented {what}: {item} ({entry.detail})", (f"journal:{entry.id}",),
        org=entry.org, site=entry.site, item=entry.item,
    )  # fmt: skip
    if found is not None and found.district is None and entry.district is not None:
        # A public scan has no org or site, but the journal placed it in the district the
        # code was issued in: without it no district regulator would see the finding.
        found = replace(found, district=entry.district)
    yield found
