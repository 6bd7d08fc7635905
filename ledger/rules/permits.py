"""Sales of controlled chemicals: permits, filings, individuals (R-TOX-1/2/4, R-PRE-1). Pure.

Judged on ``sell`` events (the seller's record of the sale); ``buy`` events and
``police_filing`` records only supply the buyer's and seller's filings.

- ``permit.individual_buyer``: highly toxic, explosive-precursor or category 1/2
  drug-precursor goods sold to an individual.
- ``permit.toxic_sale_unpermitted``: highly toxic or explosive-precursor goods sold to a
  buyer with neither a purchase permit registry record nor a production, trading or use
  licence covering them. The permit number a sale cites is the seller's note; only a
  registry record proves the permit.
- ``permit.toxic_filing_missing``: within five days (configurable) of such a sale
  (Decree 344 art. 41), the seller and the buyer have not **both** recorded a police
  filing: a number on the sell or buy event, or a ``police_filing`` registry record
  naming the other party. The days are counted as Civil Code arts. 201 and 203 count
  them (:func:`ledger.localtime.days_after`): from the Beijing day after the sale, to
  24:00 Beijing of the last day, moved past statutory rest days. A deadline. A buyer's
  filing signed in time but synced after it fired supersedes the finding
  (``device.late_sync``); a registry record counts only as logged, so a record logged
  after the deadline does not.
- ``permit.precursor_purchase``: a category 1 drug precursor sold without the buyer's
  purchase permit, or a category 2/3 one without the buyer's filing made before the sale.
"""

from __future__ import annotations

from collections.abc import Iterator

from ledger.events import Buy, Sell
from ledger.localtime import days_after
from ledger.records import RegistryRecord
from ledger.rules.facts import EventView
from ledger.rules.findings import Finding
from ledger.rules.state import OpenSale, RuleState
from ledger.rules.world import ChemicalFacts, covers_chemical

FILING = "filing"


def on_sell(st: RuleState, ev: EventView) -> Iterator[Finding | None]:
    body = ev.body
    assert isinstance(body, Sell)
    data, rules = body.data, st.config.permits
    seller, buyer = body.org, data.counterparty
    chemicals = {c.seq: c for c in ev.chemicals.values() if c is not None}
    individual = data.individual_buyer is not None or st.registry.org_type(buyer) == "individual"
    first = body.items[0].code
    banned = [c for c in chemicals.values() if c.in_any(rules.individual_banned)]
    if individual and banned:
        yield st.finding(
            "permit.individual_buyer",
            ev.hash,
            body.time,
            f"{seller} sold {_names(banned)} to an individual ({buyer})",
            (ev.hash,),
            org=seller,
            site=body.site,
            item=first,
            chemical=banned[0].seq,
        )
        return
    toxic = [c for c in chemicals.values() if c.in_any(rules.toxic_categories)]
    if toxic and not individual:
        unpermitted = [c for c in toxic if not _may_buy(st, ev, buyer, c)]
        if unpermitted:
            yield st.finding(
                "permit.toxic_sale_unpermitted",
                ev.hash,
                body.time,
                f"{seller} sold {_names(unpermitted)} to {buyer}, which holds no purchase "
                "permit or licence for it",
                (ev.hash,),
                org=seller,
                site=body.site,
                item=first,
                chemical=unpermitted[0].seq,
            )
    if toxic:
        _open_sale(st, ev, seller, buyer, toxic, seller_filed=data.police_filing_no is not None)
    yield from _precursors(st, ev, buyer, list(chemicals.values()))


def on_buy(st: RuleState, ev: EventView) -> None:
    """A buyer's own record with a police filing number counts as the buyer's filing."""
    body = ev.body
    assert isinstance(body, Buy)
    if body.data.police_filing_no is None:
        return
    seller = body.data.counterparty
    for link in body.items:
        st.filed_buys.add((body.org, seller, link.code))
    for sale_hash in list(st.sales_by_org.get(body.org, ())):
        sale = st.sales[sale_hash]
        if (
            sale.buyer == body.org
            and sale.seller == seller
            and sale.codes & {link.code for link in body.items}
            and ev.trusted <= sale.due
        ):
            sale.buyer_filed = True
            if sale.raised is not None and sale.seller_filed:
                ev.supersedes.append(sale.raised)
                _close(st, sale)


def on_record(st: RuleState, record: RegistryRecord) -> None:
    """A ``police_filing`` record files for its org against its counterparty."""
    attrs = record.attrs
    if record.kind != "permit" or attrs["kind"] != "police_filing" or attrs["status"] == "revoked":
        return
    org, other = str(attrs["org"]), attrs.get("counterparty")
    for sale_hash in list(st.sales_by_org.get(org, ())):
        sale = st.sales[sale_hash]
        if sale.raised is not None:
            continue  # logged after the deadline: too late, whatever its dates say
        if not any(covers_chemical(attrs["chemicals"], chem) for chem in sale.chemicals):
            continue
        if sale.seller == org and other in (None, sale.buyer):
            sale.seller_filed = True
        if sale.buyer == org and other in (None, sale.seller):
            sale.buyer_filed = True


def fire_filing(st: RuleState, key: str, due: float) -> Iterator[Finding | None]:
    """At the deadline, judge the filings; a breach stays open for late syncs as long as
    an event signed in time can still arrive (the device clock trust window)."""
    sale = st.sales.get(key)
    if sale is None:
        return
    if sale.raised is not None:
        _close(st, sale)
        return
    missing = [
        name
        for name, filed in (
            ("seller " + sale.seller, sale.seller_filed),
            ("buyer " + sale.buyer, sale.buyer_filed),
        )
        if not filed
    ]
    if not missing:
        _close(st, sale)
        return
    days = st.config.permits.filing_days
    period = days_after(sale.time, int(days))
    last = period.last.isoformat()
    if period.extended:
        last += f", moved from {period.nominal.isoformat()} past the rest days"
    if not period.official:
        last += "; provisional: no official holiday data for that year, weekends only"
    found = st.finding(
        "permit.toxic_filing_missing",
        key,
        due,
        f"no police filing by the {' and the '.join(missing)} within {days} days of the sale "
        f"(by 24:00 Beijing on {last})",
        (key,),
        org=sale.seller,
        site=sale.site,
        item=min(sale.codes),
        chemical=sale.chemical,
    )
    if found is None:
        _close(st, sale)
        return
    sale.raised = found.id
    # an event signed by the deadline is believed until the trust window after it
    trust_s = float(st.config.device.clock_trust_hours) * 3600
    st.schedule(max(due, sale.due + trust_s), FILING, key)
    yield found


def _close(st: RuleState, sale: OpenSale) -> None:
    st.sales.pop(sale.hash, None)
    for org in (sale.seller, sale.buyer):
        st.sales_by_org[org].discard(sale.hash)


def _may_buy(st: RuleState, ev: EventView, buyer: str, chem: ChemicalFacts) -> bool:
    registry = st.registry
    if registry.permit(buyer, ("purchase_permit",), chem, ev.time, counterparty=ev.body.org):
        return True
    activities = st.config.licence.buyer_licence_activities
    return registry.licensed(buyer, activities, chem, ev.time)


def _open_sale(
    st: RuleState,
    ev: EventView,
    seller: str,
    buyer: str,
    toxic: list[ChemicalFacts],
    *,
    seller_filed: bool,
) -> None:
    codes = frozenset(link.code for link in ev.body.items)
    registry = st.registry
    seller_filed = seller_filed or any(
        registry.permit(seller, ("police_filing",), c, ev.time, counterparty=buyer) for c in toxic
    )
    buyer_filed = any((buyer, seller, code) in st.filed_buys for code in codes) or any(
        registry.permit(buyer, ("police_filing",), c, ev.time, counterparty=seller) for c in toxic
    )
    period = days_after(ev.trusted, int(st.config.permits.filing_days))
    sale = OpenSale(
        hash=ev.hash,
        seller=seller,
        buyer=buyer,
        codes=codes,
        chemicals=tuple(toxic),
        seller_filed=seller_filed,
        buyer_filed=buyer_filed,
        chemical=toxic[0].seq,
        site=ev.body.site,
        due=period.ends.timestamp(),
        time=ev.trusted,
    )
    st.sales[ev.hash] = sale
    st.sales_by_org[seller].add(ev.hash)
    st.sales_by_org[buyer].add(ev.hash)
    st.schedule(max(sale.due, ev.known), FILING, ev.hash)


def _precursors(
    st: RuleState, ev: EventView, buyer: str, chemicals: list[ChemicalFacts]
) -> Iterator[Finding | None]:
    rules = st.config.permits
    for chem in chemicals:
        kinds: tuple[str, ...]
        if chem.in_any(rules.precursor_permit_categories):
            kinds, what = ("purchase_permit",), "purchase permit"
        elif chem.in_any(rules.precursor_filing_categories):
            kinds, what = ("purchase_permit", "precursor_filing"), "prior purchase filing"
        else:
            continue
        if st.registry.permit(buyer, kinds, chem, ev.time):
            continue
        yield st.finding(
            "permit.precursor_purchase",
            f"{ev.hash}:{chem.seq}",
            ev.body.time,
            f"{ev.body.org} sold drug precursor {chem.name} to {buyer}, which has no {what}",
            (ev.hash,),
            org=buyer,
            site=ev.body.site,
            item=ev.body.items[0].code,
            chemical=chem.seq,
        )


def _names(chemicals: list[ChemicalFacts]) -> str:
    return ", ".join(sorted({c.name for c in chemicals}))
