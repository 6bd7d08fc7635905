"""The console's one search box finds items by production lot and by waybill number, within
the caller's scope: an enterprise searching another's lot or waybill learns nothing."""

from __future__ import annotations

import re

from ledger.events import Commission, Ship
from ledger.store.service import ServiceStore
from tests.api.console.conftest import Demo, login

FOUND_BY = re.compile(r'<p class="found-by" data-kind="(?P<kind>[a-z]+)">[^<]*: (?P<n>\d+)</p>')
ITEM_LINK = re.compile(r'<a href="/console/items/(?P<code>[^"]+)">')


def _document(demo: Demo, kind: type[Commission] | type[Ship]) -> tuple[str, set[str], str]:
    """A lot or waybill of the demo ledger, the items its event names, and its signer."""
    for logged in ServiceStore(demo.service.deployment.store.engine).all_events():
        body = logged.event.body
        if isinstance(body, kind):
            value = body.data.lot if isinstance(body, Commission) else body.data.waybill_no
            if value:
                return value, {link.code for link in body.items}, body.org
    raise AssertionError(f"the demo has no {kind.__name__} with a document number")


def _search(demo: Demo, token: str, query: str) -> tuple[dict[str, int], set[str]]:
    html = login(demo.browser(), token).get("/console/search", params={"q": query}).text
    found = {m["kind"]: int(m["n"]) for m in FOUND_BY.finditer(html)}
    return found, {m["code"] for m in ITEM_LINK.finditer(html)}


def test_a_lot_and_a_waybill_find_their_items_in_any_spelling(demo: Demo) -> None:
    for kind, name in ((Commission, "lot"), (Ship, "waybill")):
        value, codes, _ = _document(demo, kind)
        for spelling in (value, value.lower(), "-".join(value)):
            found, shown = _search(demo, demo.admin_token, spelling)
            assert found.get(name, 0) >= len(codes), (name, spelling, found)
            assert codes <= shown, (name, spelling)


def test_another_enterprise_learns_nothing_from_a_lot_or_a_waybill(demo: Demo) -> None:
    store = ServiceStore(demo.service.deployment.store.engine)
    for kind in (Commission, Ship):
        value, codes, _ = _document(demo, kind)
        strangers = [
            user for user in demo.tokens
            if user.endswith("-ops") and all(
                user.removesuffix("-ops") not in store.item_parties(code)[0] for code in codes)
        ]  # fmt: skip
        assert strangers, "the demo needs an enterprise that never touched these items"
        found, shown = _search(demo, demo.tokens[strangers[0]], value)
        assert found == {} and not (codes & shown)
        holders = {demo.service.queries.projection()[code].holder for code in codes}
        holder = next(f"{org}-ops" for org in sorted(h for h in holders if h)
                      if f"{org}-ops" in demo.tokens)  # fmt: skip
        own, own_shown = _search(demo, demo.tokens[holder], value)
        assert own and codes & own_shown
