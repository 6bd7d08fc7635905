"""Who is calling and what they may see: bearer tokens, principals and scopes.

A token is 32 random bytes (``ct_`` + base64url); only its SHA-256 is stored, so a leaked
table grants nothing and a lookup is one indexed read. Users are registry records (kind
``user``), so who was given which role, and when, is in the log like every other
registry change. Scope: an enterprise sees its own organisation; a regulator or
inspector the districts on its user record; an admin everything.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Final, Literal

from api.services.errors import UnknownUserError
from api.services.records import Recent, Records
from api.services.scope import Scope
from ledger.store.service import ServiceStore

Role = Literal["admin", "enterprise", "regulator", "city_regulator", "inspector", "responder"]
CITY_WIDE: Final = frozenset({"city_regulator", "responder"})
"""Roles whose scope is every district, whatever their user record lists."""
TOKEN_PREFIX = "ct_"  # noqa: S105 - a prefix, not a secret


def new_token() -> str:
    """A fresh random token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    """What the database stores for a token."""
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, and what they may see."""

    user_id: str
    role: Role
    org: str | None
    districts: frozenset[str]


class AccessService:
    """Tokens, the principals behind them, and their scopes (each cached for a second, so a
    revocation or a registry change bites within 1 s)."""

    def __init__(self, store: ServiceStore, records: Records) -> None:
        self._store, self._records = store, records
        self._principals: Recent[bytes, Principal | None] = Recent()
        self._scopes: Recent[Principal, Scope] = Recent()
        records.on_change(self._record_changed)

    def _record_changed(self, kind: str) -> None:
        if kind == "user":
            self._principals.forget()
        if kind in ("org", "site"):
            self._scopes.forget()

    # -- tokens --------------------------------------------------------------------------------

    def issue_token(self, user_id: str) -> str:
        if user_id not in self._records.of("user"):
            raise UnknownUserError(user_id)
        token = new_token()
        self._store.add_token(token_hash(token), user_id)
        return token

    def revoke_tokens(self, user_id: str) -> int:
        revoked = self._store.revoke_tokens(user_id)
        self._principals.forget()
        return revoked

    def principal_for(self, digest: bytes) -> Principal | None:
        """The caller behind a token hash; ``None`` for an unknown or revoked token, or one of
        a user who is not active."""
        return self._principals.get(digest, lambda: self._lookup_principal(digest))

    def remembered_principal(self, digest: bytes) -> tuple[bool, Principal | None]:
        """``(True, principal_for(digest))`` when that answer is remembered and needs no read
        (the event loop may ask without blocking), else ``(False, None)``."""
        return self._principals.fresh(digest)

    def _lookup_principal(self, digest: bytes) -> Principal | None:
        user_id = self._store.token_user(digest)
        if user_id is None:
            return None
        user = self._records.of("user").get(user_id)
        if user is None or user.attr("status") != "active":
            return None
        return Principal(
            user_id=user_id,
            role=user.attr("role"),
            org=user.attr("org"),
            districts=frozenset(user.attr("districts") or ()),
        )

    # -- scope ---------------------------------------------------------------------------------

    def scope(self, principal: Principal) -> Scope:
        """What ``principal`` may see (remembered for a second: a district's orgs and sites
        take a scan of every record)."""
        return self._scopes.get(principal, lambda: self._scope(principal))

    def _scope(self, principal: Principal) -> Scope:
        if principal.role == "admin":
            return Scope(orgs=None)
        if principal.role == "enterprise":
            return Scope(orgs=frozenset({principal.org} if principal.org else ()))
        districts = principal.districts
        if principal.role in CITY_WIDE:
            districts = frozenset(
                str(site.attr("district")) for site in self._records.of("site").values()
            ) | frozenset(str(org.attr("district")) for org in self._records.of("org").values())
        return Scope(
            orgs=frozenset(self._records.orgs_in(districts)),
            sites=frozenset(self._records.sites_in(districts)),  # city-wide: every site
            by_site=True,
        )
