"""Every error the ledger core raises.

The *type* of an exception is its identity; each class carries a stable
machine ``code`` (used once, at the HTTP and CLI edges) and a human
``diagnostics()`` text. Names end in ``Error``.

::

    LedgerError
    ├── InvalidInputError            the input is malformed; nothing was written
    │   ├── MalformedEventError      an event body failed strict validation
    │   ├── CanonicalizationError    a value cannot be encoded as RFC 8785 bytes
    │   ├── InvalidCodeError         (ledger.codes) a trace code or label is malformed
    │   ├── CatalogError             (ledger.catalog) a catalog file is malformed
    │   ├── UnknownChemicalQueryError  (ledger.catalog.lookup) a text names no chemical
    │   ├── AmbiguousChemicalError   (ledger.catalog.lookup) a text names several chemicals
    │   ├── BundleFormatError        (ledger.bundle) an offline bundle is malformed
    │   ├── ExternalIdError          (ledger.external_ids) an external id is malformed
    │   ├── EpcisError               (ledger.epcis) an EPCIS document chemtrace cannot take
    │   │   ├── EpcisFormatError     it breaks the EPCIS 2.0 / CBV 2.0 syntax
    │   │   ├── EpcisNoCounterpartError  content chemtrace has no place for, or a fact it lacks
    │   │   ├── EpcisSensorDataError     it carries sensor data, which no event can sign
    │   │   └── UnissuedIdentifierError  an EPC, location or party the registry never issued
    │   ├── IdentifierError          (ledger.epcis) a GS1 key, Digital Link or EPC is invalid
    │   └── DerivationError          (ledger.signed_capture) a signed document's event does not map
    ├── VerificationError            a cryptographic or structural check failed
    │   ├── SignatureInvalidError    a signature does not verify
    │   ├── ProofError               an inclusion or consistency proof is wrong
    │   ├── TileError                a tlog tile, entry bundle or tile path is malformed
    │   ├── NoteError                a signed note is malformed or unsigned
    │   ├── TamperedEntryError       a stored entry's bytes no longer match its leaf's hash
    │   ├── HttpSignatureError       (ledger.http_signature) an RFC 9421 request is refused
    │   │   ├── SignatureMissingError    no Signature / Signature-Input field
    │   │   ├── ComponentsMissingError   a required component or parameter is not covered
    │   │   ├── ContentDigestMismatchError  the body is not the one the digest names
    │   │   ├── SignatureExpiredError    expired, created in the future, or too long-lived
    │   │   └── SignatureReplayedError   the key used this nonce before
    │   ├── PackError                (ledger.emergency_pack) a responder pack is not what it claims
    │   └── QuorumError              (ledger.witness_policy) too few valid cosignatures
    ├── AppendRejectedError          a well-formed event the ledger refuses
    │   ├── UnknownKeyError          the signing key is not registered
    │   ├── KeyNotValidAtLogTimeError  the key was not valid at log time
    │   ├── KeyRevokedError          the key is revoked
    │   ├── UnknownItemError         an item has no chain and the event cannot start one
    │   │   └── NotRelatedError      the writer is a stranger to the item (answers alike)
    │   ├── NotHolderError           a former holder's event signed after its handoff
    │   ├── UnknownCodeError         no registry batch issued this code
    │   ├── UnknownChemicalError     (ledger.catalog) the catalog has no such chemical
    │   ├── UnknownCatalogVersionError  (ledger.catalog) no such catalog version
    │   ├── CatalogVersionNotInForceError  (ledger.catalog) the version was not in force
    │   ├── UnitNotConvertibleError  (ledger.units) a quantity its form cannot weigh
    │   ├── CodeIssuedToAnotherOrgError  a chain started on a code issued to someone else
    │   ├── ItemExistsError          a chain-starting event names an existing item
    │   ├── StaleHeadError           the event's prev is not the item's head (conflict)
    │   └── GroupRejectedError       another event touching the same items was rejected
    ├── DuplicateCodeError           (ledger.codes) a code was issued twice
    ├── BundleUnavailableError       (ledger.store.bundles) no checkpointed bundle yet
    ├── AnchorError                  (ledger.anchor) an anchor did not record a checkpoint
    ├── WitnessRefusedError          (ledger.witness) a witness will not cosign
    │   ├── WitnessRequestError      the add-checkpoint request is malformed
    │   ├── UnknownOriginError       the witness does not follow this log
    │   ├── LogSignatureError        no valid signature from a trusted log key
    │   ├── OldSizeConflictError     the old size is not the size it last cosigned
    │   └── InconsistentCheckpointError  the checkpoint does not extend its state
    ├── StorageError                 the store failed or disagrees with itself
    │   ├── CheckpointConflictError  another signer moved the checkpoint first
    │   └── FencedError              (ledger.store.fencing) this node may not take writes
    └── FindingError                 the anomaly findings refuse a request
        ├── UnknownFindingError      no finding (or webhook) has that id
        └── TransitionRefusedError   the workflow does not allow that status change

Errors whose ``fraud`` is true smell of fraud rather than a slip: the service records
them in the security journal. This module does not map errors to HTTP statuses;
``api/problems.py`` does.
"""

from __future__ import annotations

from typing import ClassVar


class LedgerError(Exception):
    """Base of every error raised by the ledger core."""

    code: str = "ledger_error"
    fraud: ClassVar[bool] = False
    journal_as: ClassVar[str | None] = None
    """The security journal's name for it, where its ``code`` must hide what it is."""

    def __init__(self, message: str, **context: object) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def diagnostics(self) -> str:
        """Return a plain-language explanation with the error's context."""
        if not self.context:
            return self.message
        details = ", ".join(f"{key}={value}" for key, value in sorted(self.context.items()))
        return f"{self.message} ({details})"


class InvalidInputError(LedgerError):
    code = "invalid_input"


class MalformedEventError(InvalidInputError):
    code = "malformed_event"


class CanonicalizationError(InvalidInputError):
    code = "not_canonicalizable"


class VerificationError(LedgerError):
    code = "verification_failed"


class SignatureInvalidError(VerificationError):
    code = "bad_signature"
    fraud = True


class ProofError(VerificationError):
    code = "bad_proof"


class TileError(VerificationError):
    """A C2SP tlog tile, entry bundle or tile path is malformed, or asked of a tree without it."""

    code = "bad_tile"


class NoteError(VerificationError):
    code = "bad_note"


class QuorumError(VerificationError):
    """A checkpoint without the witness quorum a policy asks for; the context says who."""

    code = "witness_quorum_not_met"


class TamperedEntryError(VerificationError):
    """A stored log entry's bytes no longer match the hash its leaf commits to."""

    code = "log_entry_tampered"


class AppendRejectedError(LedgerError):
    code = "append_rejected"


class UnknownKeyError(AppendRejectedError):
    code = "unknown_key"
    fraud = True


class KeyNotValidAtLogTimeError(AppendRejectedError):
    code = "key_not_valid_at_log_time"
    fraud = True


class KeyRevokedError(AppendRejectedError):
    code = "key_revoked"
    fraud = True


UNKNOWN_ITEM_MESSAGE = "item has no chain to continue"


class UnknownItemError(AppendRejectedError):
    code = "unknown_item"


class NotRelatedError(UnknownItemError):
    """A write by an organisation with no relation to the item.

    Its code, message and context are exactly an :class:`UnknownItemError`'s, so the
    writer cannot tell a refused guess from an item that does not exist.
    """

    fraud = True
    journal_as = "not_related"

    def __init__(self, *, item: str) -> None:
        super().__init__(UNKNOWN_ITEM_MESSAGE, item=item)


class NotHolderError(AppendRejectedError):
    code = "not_holder"


class UnknownCodeError(AppendRejectedError):
    code = "unknown_code"
    fraud = True


class CodeIssuedToAnotherOrgError(AppendRejectedError):
    code = "code_issued_to_another_org"
    fraud = True


class ItemExistsError(AppendRejectedError):
    code = "item_exists"


class StaleHeadError(AppendRejectedError):
    code = "stale_head"


class GroupRejectedError(AppendRejectedError):
    code = "group_rejected"

    def __init__(self, cause: LedgerError) -> None:
        super().__init__(
            f"rejected with its connected group because of {cause.code}", cause=cause.code
        )


class AnchorError(LedgerError):
    """An anchor (a witness, an external ledger) did not record a checkpoint.

    ``anchored_size`` is the size the anchor says it holds, when it said one.
    """

    code = "anchor_failed"

    def __init__(self, message: str, *, anchored_size: int | None = None) -> None:
        super().__init__(message)
        self.anchored_size = anchored_size


class WitnessRefusedError(LedgerError):
    code = "witness_refused"


class WitnessRequestError(WitnessRefusedError):
    code = "bad_request"


class UnknownOriginError(WitnessRefusedError):
    code = "unknown_origin"


class LogSignatureError(WitnessRefusedError):
    code = "log_signature_invalid"


class OldSizeConflictError(WitnessRefusedError):
    """The log's old size is not the witness's: ``latest`` is the size it last cosigned."""

    code = "old_size_conflict"

    def __init__(self, *, latest: int, old: int) -> None:
        super().__init__("old size differs from the latest cosigned size", latest=latest, old=old)
        self.latest = latest


class InconsistentCheckpointError(WitnessRefusedError):
    code = "inconsistent_checkpoint"


class StorageError(LedgerError):
    code = "storage_error"


class CheckpointConflictError(StorageError):
    code = "checkpoint_conflict"


class FindingError(LedgerError):
    code = "finding_error"


class UnknownFindingError(FindingError):
    code = "finding_not_found"


class TransitionRefusedError(FindingError):
    code = "invalid_transition"
