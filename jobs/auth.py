"""API clients: bearer tokens (only their sha256 is stored), scopes, and the FastAPI dependency.

A token is ``ag_`` + 43 URL-safe characters (256 random bits), printed once by
``assetgen clients create``. Lookup is by the token's sha256; the stored hash
is then compared in constant time. Scopes: ``submit`` (create and cancel jobs),
``read`` (read jobs, assets, models), ``admin`` (everything, every client's jobs).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from jobs.db.tables import ApiClient

SCOPES = ("submit", "read", "admin")
TOKEN_PREFIX = "ag_"


class ClientExists(ValueError):
    pass


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    client_id: str
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    @property
    def owner_filter(self) -> str | None:
        """The client id jobs are filtered by; None (every job) for admin."""
        return None if "admin" in self.scopes else self.client_id


@dataclass(frozen=True)
class NewClient:
    client_id: str
    name: str
    scopes: tuple[str, ...]
    token: str  # shown once, never stored
    webhook_secret: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_scopes(text: str) -> tuple[str, ...]:
    scopes = tuple(dict.fromkeys(s.strip() for s in text.replace(",", " ").split() if s.strip()))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ValueError(
            f"scopes: {', '.join(unknown) or '(none)'} not allowed "
            f"(choose from {', '.join(SCOPES)})"
        )
    return scopes


def create_client(sf: sessionmaker[Session], name: str, scopes: tuple[str, ...]) -> NewClient:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    secret = "whsec_" + secrets.token_urlsafe(32)
    row = ApiClient(
        name=name, token_hash=hash_token(token), scopes=" ".join(scopes), webhook_secret=secret
    )
    try:
        with sf.begin() as s:
            s.add(row)
    except IntegrityError:
        raise ClientExists(f"a client named {name!r} already exists") from None
    return NewClient(row.id, name, scopes, token, secret)


def authenticate(sf: sessionmaker[Session], token: str) -> Principal | None:
    """The client holding this token, or None (unknown, malformed or disabled)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    digest = hash_token(token)
    with sf() as s:
        row = s.scalars(select(ApiClient).where(ApiClient.token_hash == digest)).first()
    if (
        row is None
        or row.disabled_at is not None
        or not hmac.compare_digest(row.token_hash, digest)
    ):
        return None
    return Principal(row.id, row.name, frozenset(row.scopes.split()))


def client_webhook_secret(s: Session, client_id: str | None) -> str | None:
    if client_id is None:
        return None
    row = s.get(ApiClient, client_id)
    return row.webhook_secret if row else None
