"""Which checkpoints a verifier accepts: a C2SP tlog-policy file (https://c2sp.org/tlog-policy).

::

    log <vkey> [<url>]                      a log key (its name is the log's origin)
    witness <name> <cosigner vkey> [<url>]  a witness key (tlog-cosignature/v1, type 0x04)
    group <name> all|any|<k> <name>...      k of the named witnesses or groups
    quorum <name>|none                      what must have cosigned, exactly once
    valid <vkey> [from <time>] [until <time>]   chemtrace extension, see below

Names are defined before they are used; ``#`` starts a comment line. A checkpoint is
accepted when a listed log key signed it and the quorum of witnesses cosigned it.

**Validity (our extension).** A ``valid`` line bounds when a listed key counts, with
RFC 3339 times. A cosignature counts only if its timestamp lies in its witness key's window;
a log signature counts only together with a quorum of cosignatures stamped inside the log
key's window. The witnesses' timestamps are the only clock a checkpoint carries, so this is
how a verifier judges an old bundle by the keys valid when it was witnessed, and refuses
what a stolen key signs after its ``until``. With ``quorum none`` there is no witnessed
time and a window is judged at the verifier's own clock. A file without ``valid`` lines is
a plain tlog-policy file.

**Rotating a witness key** keeps one party one vote: list both keys under their own names
and count the party as ``group <party> any <old> <new>``.

Signatures from keys the policy does not list are ignored (signed-note). A cosignature
from a listed witness key that does not verify rejects the note, as signed-note asks of a
known key's bad signature; the error names it. This module performs no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from ledger.checkpoint import Checkpoint
from ledger.cosignature import CosignerVerifier, parse_cosigner_vkey, verify_cosignature
from ledger.errors import LedgerError, NoteError, QuorumError
from ledger.note import NoteVerifier, open_note, parse_vkey, split_note
from ledger.timefmt import parse_utc

NONE: Final = "none"
FUTURE_SKEW_S: Final = 300
_NAME: Final = re.compile(r"[^\s#]+")
_WHITESPACE: Final = re.compile(r"[ \t]+")
_RFC3339_OFFSET: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([+-][0-9]{2}:[0-9]{2})?"
)


@dataclass(frozen=True)
class Window:
    """When a key counts, in POSIX seconds: ``start <= t < end``; ``None`` is unbounded."""

    start: int | None = None
    end: int | None = None

    def holds(self, timestamp: int) -> bool:
        return (self.start is None or self.start <= timestamp) and (
            self.end is None or timestamp < self.end
        )

    @property
    def bounded(self) -> bool:
        return self.start is not None or self.end is not None


@dataclass(frozen=True)
class PolicyLog:
    verifier: NoteVerifier
    url: str | None = None
    window: Window = Window()


@dataclass(frozen=True)
class PolicyWitness:
    name: str
    verifier: CosignerVerifier
    url: str | None = None
    window: Window = Window()


@dataclass(frozen=True)
class Group:
    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class WitnessPolicy:
    """A parsed policy. Build one with :func:`parse_policy`."""

    logs: tuple[PolicyLog, ...]
    witnesses: tuple[PolicyWitness, ...]
    groups: tuple[Group, ...]
    quorum: str

    def witness(self, name: str) -> PolicyWitness | None:
        return next((w for w in self.witnesses if w.name == name), None)

    def satisfied(self, cosigned: set[str]) -> bool:
        """Whether the witnesses named in ``cosigned`` meet the quorum."""
        if self.quorum == NONE:
            return True
        groups = {group.name: group for group in self.groups}

        def met(name: str) -> bool:
            group = groups.get(name)
            if group is None:
                return name in cosigned
            return sum(met(member) for member in group.members) >= group.threshold

        return met(self.quorum)


def _time(text: str, line: int) -> int:
    try:
        return int(parse_utc(text).timestamp()) if text.endswith("Z") else _offset_time(text)
    except LedgerError as exc:
        raise NoteError(f"policy line {line}: bad time {text!r}: {exc.message}") from exc


def _offset_time(text: str) -> int:
    # fromisoformat alone also takes ISO 8601 forms RFC 3339 does not (20300101T000000+0800).
    if not _RFC3339_OFFSET.fullmatch(text):
        raise NoteError("not an RFC 3339 time", time=text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise NoteError("not an RFC 3339 time", time=text) from exc
    if moment.tzinfo is None:
        raise NoteError("a policy time needs an offset (Z or +08:00)", time=text)
    return int(moment.timestamp())


def _window(args: list[str], line: int) -> Window:
    start = end = None
    if len(args) % 2 or not args:
        raise NoteError(f"policy line {line}: valid <vkey> [from <time>] [until <time>]")
    for key, value in zip(args[::2], args[1::2], strict=True):
        if key == "from" and start is None:
            start = _time(value, line)
        elif key == "until" and end is None:
            end = _time(value, line)
        else:
            raise NoteError(f"policy line {line}: unexpected {key!r} in a valid line")
    if start is not None and end is not None and end <= start:
        raise NoteError(f"policy line {line}: until must be after from")
    return Window(start, end)


def _canonical_vkey(text: str, line: int) -> str:
    """The vkey as :meth:`vkey` writes it (key IDs may be written in upper case)."""
    try:
        return parse_vkey(text).vkey()
    except NoteError:
        pass
    try:
        return parse_cosigner_vkey(text).vkey()
    except NoteError as exc:
        raise NoteError(f"policy line {line}: valid names a malformed key: {exc.message}") from exc


@dataclass
class _Parser:
    logs: list[PolicyLog] = field(default_factory=list)
    witnesses: list[PolicyWitness] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    quorum: str | None = None
    windows: dict[str, Window] = field(default_factory=dict)

    def names(self) -> set[str]:
        return {w.name for w in self.witnesses} | {g.name for g in self.groups}

    def keys(self) -> set[bytes]:
        return {log.verifier.public_key for log in self.logs} | {
            w.verifier.public_key for w in self.witnesses
        }

    def _new_name(self, name: str, line: int) -> None:
        if not _NAME.fullmatch(name) or name == NONE:
            raise NoteError(f"policy line {line}: bad name {name!r}")
        if name in self.names():
            raise NoteError(f"policy line {line}: {name!r} is defined twice")

    def log(self, args: list[str], line: int) -> None:
        if len(args) not in (1, 2):
            raise NoteError(f"policy line {line}: log <vkey> [<url>]")
        verifier = parse_vkey(args[0])
        if verifier.public_key in self.keys():
            raise NoteError(f"policy line {line}: duplicate key")
        self.logs.append(PolicyLog(verifier, args[1] if len(args) == 2 else None))

    def witness(self, args: list[str], line: int) -> None:
        if len(args) not in (2, 3):
            raise NoteError(f"policy line {line}: witness <name> <vkey> [<url>]")
        self._new_name(args[0], line)
        verifier = parse_cosigner_vkey(args[1])
        if verifier.public_key in self.keys():
            raise NoteError(f"policy line {line}: duplicate key")
        url = args[2] if len(args) == 3 else None
        self.witnesses.append(PolicyWitness(args[0], verifier, url))

    def group(self, args: list[str], line: int) -> None:
        if len(args) < 3:
            raise NoteError(f"policy line {line}: group <name> all|any|<k> <name>...")
        name, rule, members = args[0], args[1], tuple(args[2:])
        self._new_name(name, line)
        unknown = [m for m in members if m not in self.names()]
        if unknown or len(set(members)) != len(members):
            raise NoteError(f"policy line {line}: members must be defined once, earlier")
        if rule == "all":
            threshold = len(members)
        elif rule == "any":
            threshold = 1
        elif re.fullmatch(r"[1-9][0-9]*", rule) and int(rule) <= len(members):
            threshold = int(rule)
        else:
            raise NoteError(f"policy line {line}: threshold must be all, any or 1..{len(members)}")
        self.groups.append(Group(name, threshold, members))

    def quorum_line(self, args: list[str], line: int) -> None:
        if self.quorum is not None or len(args) != 1:
            raise NoteError(f"policy line {line}: exactly one quorum <name> line")
        if args[0] != NONE and args[0] not in self.names():
            raise NoteError(f"policy line {line}: quorum names an undefined {args[0]!r}")
        self.quorum = args[0]

    def valid(self, args: list[str], line: int) -> None:
        key = _canonical_vkey(args[0], line) if args else None
        if key is None or key in self.windows:
            raise NoteError(f"policy line {line}: one valid line per key")
        self.windows[key] = _window(args[1:], line)

    def build(self) -> WitnessPolicy:
        if self.quorum is None:
            raise NoteError("policy has no quorum line")
        logs = [
            PolicyLog(log.verifier, log.url, self.windows.pop(log.verifier.vkey(), Window()))
            for log in self.logs
        ]
        witnesses = [
            PolicyWitness(w.name, w.verifier, w.url, self.windows.pop(w.verifier.vkey(), Window()))
            for w in self.witnesses
        ]
        if self.windows:
            raise NoteError("a valid line names a key the policy does not list")
        return WitnessPolicy(tuple(logs), tuple(witnesses), tuple(self.groups), self.quorum)


def parse_policy_bytes(data: bytes) -> WitnessPolicy:
    """Parse a policy file's bytes: octets with the high bit set are opaque to the format
    (tlog-policy §Structure), so a comment in another encoding is no error; a key or name
    line with such octets fails as malformed.

    Raises:
        NoteError: as :func:`parse_policy`.
    """
    return parse_policy(data.decode("utf-8", errors="surrogateescape"))


def parse_policy(text: str) -> WitnessPolicy:
    """Parse a policy file strictly.

    Raises:
        NoteError: a line is malformed, a name or key is repeated or undefined, or the
            quorum line is missing or repeated.
    """
    parser = _Parser()
    handlers = {
        "log": parser.log,
        "witness": parser.witness,
        "group": parser.group,
        "quorum": parser.quorum_line,
        "valid": parser.valid,
    }
    for number, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.strip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        keyword, *args = _WHITESPACE.split(stripped)
        handler = handlers.get(keyword)
        if handler is None:
            raise NoteError(f"policy line {number}: unknown keyword {keyword!r}")
        try:
            handler(args, number)
        except NoteError as exc:
            if exc.message.startswith("policy line"):
                raise
            raise NoteError(f"policy line {number}: {exc.message}", **exc.context) from exc
    return parser.build()


@dataclass(frozen=True)
class Verdict:
    """How a checkpoint fared against a policy; :attr:`accepted` is the answer."""

    checkpoint: Checkpoint
    accepted: bool
    log_keys: tuple[str, ...]
    cosigned: Mapping[str, int]
    missing: tuple[str, ...]
    bad: tuple[str, ...]
    duplicate: tuple[str, ...]
    outside_validity: tuple[str, ...]
    unknown: tuple[str, ...]
    log_keys_outside_validity: tuple[str, ...] = ()
    """Key IDs of log keys that signed while the quorum's cosignatures fall outside their
    window (with ``quorum none``: that do not hold now): a retired or stolen log key."""

    def explain(self) -> str:
        """One sentence a person can act on."""
        parts = [f"cosigned by {', '.join(sorted(self.cosigned)) or 'no listed witness'}"]
        for label, names in (
            ("missing", self.missing),
            ("bad", self.bad),
            ("duplicate", self.duplicate),
            ("outside their validity", self.outside_validity),
            ("unknown keys ignored", self.unknown),
            (
                "log keys not valid when witnessed",
                tuple(f"{self.checkpoint.origin}+{key}" for key in self.log_keys_outside_validity),
            ),
        ):
            if names:
                parts.append(f"{label}: {', '.join(names)}")
        head = "quorum met" if self.accepted else "witness quorum not met"
        return f"{head} ({'; '.join(parts)})"

    def context(self) -> dict[str, object]:
        return {
            "size": self.checkpoint.size,
            "cosigned": sorted(self.cosigned),
            "missing": list(self.missing),
            "bad": list(self.bad),
            "duplicate": list(self.duplicate),
            "outside_validity": list(self.outside_validity),
            "unknown": list(self.unknown),
            "log_keys_outside_validity": list(self.log_keys_outside_validity),
        }


def _log_signers(note: str, policy: WitnessPolicy) -> tuple[Checkpoint, list[PolicyLog]]:
    text, lines = split_note(note)
    checkpoint = Checkpoint.from_text(text)
    signed = {(line.name, line.key_id) for line in lines}
    listed = [log for log in policy.logs if log.verifier.name == checkpoint.origin]
    if not listed:
        raise NoteError("the policy lists no key for this log", origin=checkpoint.origin)
    open_note(note, [log.verifier for log in listed])  # every listed key's line must verify
    used = [log for log in listed if (log.verifier.name, log.verifier.key_id) in signed]
    return checkpoint, used


def judge_checkpoint(note: str, policy: WitnessPolicy, *, now: int) -> Verdict:
    """Judge a (cosigned) checkpoint note against ``policy`` at POSIX time ``now``.

    Raises:
        NoteError: the note is malformed, no listed log key signed it, or a listed log
            key's signature fails.
    """
    checkpoint, logs = _log_signers(note, policy)
    text, lines = split_note(note)
    by_key = {(w.verifier.name, w.verifier.key_id): w for w in policy.witnesses}
    log_keys = {(log.verifier.name, log.verifier.key_id) for log in policy.logs}
    cosigned: dict[str, int] = {}
    bad: list[str] = []
    duplicate: list[str] = []
    outside: list[str] = []
    unknown: list[str] = []
    for line in lines:
        witness = by_key.get((line.name, line.key_id))
        if witness is None:
            if (line.name, line.key_id) not in log_keys:
                unknown.append(line.name)
            continue
        try:
            timestamp = verify_cosignature(witness.verifier, text, line).timestamp
        except NoteError:
            bad.append(witness.name)
            continue
        if witness.name in cosigned:
            duplicate.append(witness.name)
        elif not witness.window.holds(timestamp) or timestamp > now + FUTURE_SKEW_S:
            outside.append(witness.name)
        else:
            cosigned[witness.name] = timestamp
    counting = [log for log in logs if _log_counts(log, cosigned, policy, now)]
    accepted = not bad and bool(counting)
    witnessed = policy.satisfied(set(cosigned))
    missing = tuple(w.name for w in policy.witnesses if w.name not in cosigned)
    return Verdict(
        checkpoint,
        accepted,
        tuple(log.verifier.key_id.hex() for log in logs),
        cosigned,
        missing,
        tuple(bad),
        tuple(duplicate),
        tuple(outside),
        tuple(unknown),
        tuple(log.verifier.key_id.hex() for log in logs if witnessed and log not in counting),
    )


def _log_counts(
    log: PolicyLog, cosigned: Mapping[str, int], policy: WitnessPolicy, now: int
) -> bool:
    if policy.quorum == NONE:
        return log.window.holds(now)
    inside = {name for name, stamp in cosigned.items() if log.window.holds(stamp)}
    return policy.satisfied(inside)


def require_quorum(note: str, policy: WitnessPolicy, *, now: int) -> Verdict:
    """Return the verdict of an accepted checkpoint.

    Raises:
        NoteError: as :func:`judge_checkpoint`.
        QuorumError: the quorum is not met; its context lists who is missing or bad.
    """
    verdict = judge_checkpoint(note, policy, now=now)
    if not verdict.accepted:
        raise QuorumError(verdict.explain(), **verdict.context())
    return verdict
