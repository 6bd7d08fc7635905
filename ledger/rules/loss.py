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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from ledger.rules.config import MassRules
from ledger.rules.findings import Severity
from ledger.rules.world import ChemicalFacts


@dataclass(frozen=True, slots=True)
class Loss:
    """A shortfall to report: the book and recorded masses (kg), and whether strict."""

    book: Decimal
    recorded: Decimal
    strict: bool

    @property
    def missing(self) -> Decimal:
        return self.book - self.recorded


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
