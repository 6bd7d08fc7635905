"""The enterprise risk grade (issue 14): explainable points from versioned weights. Pure."""

from ledger.risk.grade import Reason, RiskGrade, RiskInputs, risk_grade
from ledger.risk.inputs import InspectionHistory, LicenceState, inspection_history, licence_state
from ledger.risk.weights import RiskWeights, parse_weights

__all__ = [
    "InspectionHistory",
    "LicenceState",
    "Reason",
    "RiskGrade",
    "RiskInputs",
    "RiskWeights",
    "inspection_history",
    "licence_state",
    "parse_weights",
    "risk_grade",
]
