"""Whether a quantity recorded below the books is a loss to report. Pure.

R-TOX-6 (domain-rules §2.2; 危险化学品安全管理条例 Art. 23 **[article from recollection]**,
"发现剧毒化学品、易制爆危险化学品丢失或者被盗的，应当立即向当地公安机关报告"): a holder
of 剧毒 or 易制爆 chemicals keeps records of their quantities and flows and reports a loss
at once. So for those categories (the rules'
``mass.strict_categories``) any shortfall at all is a loss, judged when it is recorded;
for every other chemical a shortfall within the configured fraction of the book is scale
error, not a loss.

"The books" is the item's quantity in the ledger's own fold (:mod:`ledger.state`), so a
decrease is explained exactly when an event recorded it: a declared use, a transform's
input, a disposal, a reported loss (``report_loss``, already reported). What is left is
unexplained: a receive, count or return recording less than the fold holds.

One quantity on a many-item event is their total (as the fold reads it, moving no item):
a many-item record is judged against the items' summed book, and a many-item use is kept
(:class:`~ledger.rules.state.SharedUse`) as explaining that much of a later shortfall of
its items, until a single-item record takes it off a book.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from ledger.events import Quantity
from ledger.rules.config import MassRules
from ledger.rules.facts import EventView
from ledger.rules.findings import Severity
from ledger.rules.state import RuleState, SharedUse
from ledger.rules.world import ChemicalFacts, Chemistry


@dataclass(frozen=True, slots=True)
class Loss:
    """A shortfall to report: the book and recorded masses (kg), and whether strict."""

    book: Decimal
    recorded: Decimal
    strict: bool
    chemical: ChemicalFacts | None = None
    """The one chemical of the items, if they share one."""

    @property
    def missing(self) -> Decimal:
        return self.book - self.recorded


@dataclass(frozen=True, slots=True)
class Book:
    """What an event's items hold by the books, in kg, less what shared uses explain."""

    held: Decimal
    explained: Decimal
    chemical: ChemicalFacts | None
    chemicals: tuple[ChemicalFacts | None, ...]
    shared: tuple[SharedUse, ...]

    def kilograms(self, quantity: Quantity) -> Decimal | None:
        return Chemistry.kilograms(Decimal(quantity.value), quantity.unit, self.chemical)


def strict(rules: MassRules, chemicals: Iterable[ChemicalFacts | None]) -> bool:
    """Whether any of ``chemicals`` is of a zero-tolerance category (剧毒, 易制爆)."""
    return any(c is not None and c.in_any(rules.strict_categories) for c in chemicals)


def loss(
    rules: MassRules,
    book: Decimal,
    recorded: Decimal,
    tolerance: Decimal,
    chemicals: Iterable[ChemicalFacts | None],
) -> Loss | None:
    """The loss ``recorded`` kg shows against ``book`` kg, or ``None`` if there is none.

    Strict: anything below the book (exactly the book is no loss). Otherwise: more than
    ``tolerance`` × the book below it (exactly at the tolerance is no loss).
    """
    if recorded >= book:
        return None
    zero = strict(rules, chemicals)
    if not zero and book - recorded <= book * tolerance:
        return None
    return Loss(book=book, recorded=recorded, strict=zero)


def severity(rules: MassRules, found: Loss) -> Severity | None:
    """The strict severity for a strict loss; ``None`` (the rule's own) otherwise."""
    return rules.strict_severity if found.strict else None


def book(st: RuleState, ev: EventView) -> Book | None:
    """The summed book of the event's items just before it; ``None`` if one is unknown."""
    chemicals = tuple(ev.chemicals[link.code] for link in ev.body.items)
    # a total over different chemicals is a mass only when written as one
    chem = chemicals[0] if len({c.code if c else None for c in chemicals}) == 1 else None
    held = Decimal(0)
    for link, facts in zip(ev.body.items, chemicals, strict=True):
        state = ev.before[link.code]
        if state.quantity is None or state.unit is None:
            return None
        kg = Chemistry.kilograms(state.quantity, state.unit, facts)
        if kg is None:
            return None
        held += kg
    shared = {id(use): use for link in ev.body.items
              for use in st.shared_uses.get(link.code, ()) if use.remaining_kg > 0}  # fmt: skip
    explained = sum((use.remaining_kg for use in shared.values()), Decimal(0))
    return Book(held, explained, chem, chemicals, tuple(shared.values()))


def judge(
    st: RuleState, ev: EventView, recorded: Quantity | None, tolerance: Decimal
) -> Loss | None:
    """The loss a receive, count or return recording ``recorded`` shows, if any.

    A single-item record sets the item's book (:mod:`ledger.state`), so the shared uses it
    accounts for are spent; a many-item total sets none and spends none.
    """
    if recorded is None:
        return None
    books = book(st, ev)
    got = None if books is None else books.kilograms(recorded)
    if books is None or got is None or got >= books.held:
        return None
    accounted = min(books.held - got, books.explained)
    if len(ev.body.items) == 1:
        _spend(st, ev, books.shared, accounted)
    found = loss(st.config.mass, books.held - accounted, got, tolerance, books.chemicals)
    if found is None:
        return None
    return Loss(found.book, found.recorded, found.strict, books.chemical)


def share(st: RuleState, ev: EventView, kilograms: Decimal) -> None:
    """Keep a many-item use of ``kilograms`` in all as explaining its items' shortfalls."""
    use = SharedUse(kilograms)
    for link in ev.body.items:
        st.shared_uses[link.code].append(use)


def _spend(st: RuleState, ev: EventView, shared: Iterable[SharedUse], kilograms: Decimal) -> None:
    for use in shared:
        taken = min(use.remaining_kg, kilograms)
        use.remaining_kg -= taken
        kilograms -= taken
    # a spent use is dropped from this event's items now, from its other items when read
    for link in ev.body.items:
        left = [use for use in st.shared_uses.pop(link.code, ()) if use.remaining_kg > 0]
        if left:
            st.shared_uses[link.code] = left
