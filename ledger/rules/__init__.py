"""Flow-anomaly rules over ledger facts (brief §5, reference/domain-rules.md). Pure.

:class:`Engine` folds ledger entries in log order and returns :class:`Finding` values;
every threshold and list comes from a :class:`RulesConfig` file, never from code.
"""

from __future__ import annotations

from ledger.rules.config import RULES, RulesConfig, parse_rules
from ledger.rules.engine import Engine
from ledger.rules.facts import (
    CertificateFact,
    EventFact,
    JournalFact,
    LedgerFact,
    LicenceFact,
    RecordFact,
    RevocationFact,
)
from ledger.rules.findings import SEVERITIES, Finding, Severity

__all__ = [
    "RULES", "SEVERITIES", "CertificateFact", "Engine", "EventFact", "Finding", "JournalFact",
    "LedgerFact", "LicenceFact", "RecordFact", "RevocationFact", "RulesConfig", "Severity",
    "parse_rules",
]  # fmt: skip
