"""Every refusal the services raise (the ledger core's own are in :mod:`ledger.errors`).

The *type* of an error says what was refused, and its ``detail`` says it in words; the
HTTP status, the problem ``code`` and the extra members (``field``, ``index``,
``retry_after``) are given to each type once, in :func:`api.problems.problem_of`.

::

    ServiceError
    ├── NotFoundError            no such thing, or none the caller may see (answered alike)
    │   ├── UnknownUserError     no user of that id (to give a token to)
    │   ├── UnknownDeviceKeyError  no device key of that id
    │   ├── CodeNotFoundError    no code issued (or none within the caller's scope)
    │   ├── ErasedError          a crew member's personal data was erased, or never kept
    │   ├── TileNotFoundError    no such tlog tile, or none the latest checkpoint has
    │   └── NoCheckpointError    no checkpoint has been signed yet
    ├── ForbiddenError           the caller may not do this
    │   ├── NotDeviceManagerError  the caller may not manage an organisation's devices
    │   └── OrgMismatchError     a token wrote an event for an organisation not its own
    ├── RateLimitedError         the caller is over a rate
    │   ├── OverRateError        a device or organisation is over its events per minute
    │   └── ProbingError         a device or organisation spent its custody refusals
    ├── UnknownOrgError          an organisation named in the input is not registered
    └── InvalidQueryError        a query parameter that cannot be read (a bad cursor, say)

As in the core, an error whose ``fraud`` is true smells of fraud rather than a slip: the
service records it in the security journal, with its :meth:`ServiceError.diagnostics`.
"""

from __future__ import annotations

from typing import ClassVar


class ServiceError(Exception):
    """Base of every refusal raised by the services."""

    fraud: ClassVar[bool] = False

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def diagnostics(self) -> str:
        """The refusal as the security journal records it (by default, its ``detail``)."""
        return self.detail


class NotFoundError(ServiceError):
    """No ``kind`` called ``name`` (``item``, ``webhook``, or a registry kind), or none the
    caller may see: a thing out of scope is reported exactly like a missing one."""

    def __init__(self, kind: str, name: str, detail: str) -> None:
        super().__init__(detail)
        self.kind, self.name = kind, name


class UnknownUserError(NotFoundError):
    def __init__(self, user_id: str) -> None:
        super().__init__("user", user_id, f"no user {user_id!r}")


class UnknownDeviceKeyError(NotFoundError):
    def __init__(self, key_id: str) -> None:
        super().__init__("device_key", key_id, f"no device key {key_id}")


class CodeNotFoundError(NotFoundError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__("code", code, detail)


class ErasedError(NotFoundError):
    def __init__(self, record_id: str) -> None:
        super().__init__("person", record_id, "this person's data was erased or never kept")


class TileNotFoundError(NotFoundError):
    """A tile path that is malformed, or names a tile the latest checkpoint does not have
    (beyond it, wider than it, or a partial tile whose full tile exists: C2SP tlog-tiles)."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__("tile", path, detail)


class NoCheckpointError(NotFoundError):
    def __init__(self) -> None:
        super().__init__("checkpoint", "latest", "no checkpoint has been signed yet")


class ForbiddenError(ServiceError):
    """The caller may not do this (it may know that the thing exists)."""


class NotDeviceManagerError(ForbiddenError):
    def __init__(self, org: str) -> None:
        super().__init__(f"you may not manage the devices of {org}")
        self.org = org


class OrgMismatchError(ForbiddenError):
    """Event ``index`` of a submission is for an organisation the token may not write for."""

    fraud = True

    def __init__(
        self, *, index: int, user_id: str, role: str, token_org: str | None, event_type: str,
        event_org: str,
    ) -> None:  # fmt: skip
        super().__init__(
            f"event {index}: a {role} token may not write a {event_type} event for "
            f"organisation {event_org}"
        )
        self.index = index
        self._journalled = (
            f"token of {user_id} ({role}, org {token_org}) submitted a {event_type} event for "
            f"org {event_org}"
        )

    def diagnostics(self) -> str:
        return self._journalled


class RateLimitedError(ServiceError):
    """Over a rate: try again in ``retry_after`` seconds (at least 1)."""

    def __init__(self, detail: str, wait_s: float) -> None:
        super().__init__(detail)
        self.retry_after = max(1, int(wait_s))


class OverRateError(RateLimitedError):
    def __init__(self, key: str, per_minute: int, wait_s: float) -> None:
        super().__init__(f"{key} is over {per_minute} events per minute", wait_s)


class ProbingError(RateLimitedError):
    def __init__(self, wait_s: float) -> None:
        super().__init__("too many refused writes; slow down", wait_s)


class UnknownOrgError(ServiceError):
    """The input names an organisation (its ``org``) that is not registered."""

    def __init__(self, org: str) -> None:
        super().__init__(f"no organisation {org!r}")
        self.org = org


class InvalidQueryError(ServiceError):
    """A query parameter ``field`` the service cannot read: a 422 with its own ``code``
    (and ``candidates`` to choose from, for a name that names several things)."""

    def __init__(
        self, code: str, field: str, detail: str, candidates: list[dict[str, object]] | None = None
    ) -> None:
        super().__init__(detail)
        self.code, self.field, self.candidates = code, field, candidates
