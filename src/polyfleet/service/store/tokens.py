"""Bearer tokens: created with a role, kept as a salted SHA-256 hash, checked in constant time.

A secret reads `pf_<id>_<random>`: the id finds the row, the hash of the whole secret is compared
with `hmac.compare_digest`. The random part has 256 bits, so a fast hash is enough (a slow
password hash protects guessable secrets; these are not guessable). The secret is shown once, at
creation, and never stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from polyfleet.errors import InputError
from polyfleet.service.store.models import ROLES, Token
from polyfleet.service.store.records import TokenInfo

__all__ = ["TOKEN_NAME_PATTERN", "TokenRepository", "hash_secret", "token_id_of"]

TOKEN_NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]{1,128}$"
_SECRET = re.compile(r"pf_([a-f0-9]{12})_[A-Za-z0-9_-]{43}")
# last_used_at is written at most this often per token, so reads do not each cost a write
TOUCH_EVERY = dt.timedelta(minutes=1)


def hash_secret(secret: str, salt: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def token_id_of(secret: str) -> str | None:
    """The token id inside a well-formed secret; None for anything else."""
    match = _SECRET.fullmatch(secret)
    return match.group(1) if match else None


def _info(row: Token) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        role=row.role,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class TokenRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def create(self, role: str, name: str | None = None) -> tuple[TokenInfo, str]:
        """A new token and its secret; the secret is not kept and cannot be shown again."""
        if role not in ROLES:
            raise InputError(f"role must be one of {', '.join(ROLES)}", field="role", value=role)
        name = role if name is None else name
        if not re.fullmatch(TOKEN_NAME_PATTERN, name):
            raise InputError(
                "a token name is 1-128 characters, no control characters", field="name", value=name
            )
        token_id = secrets.token_hex(6)
        secret = f"pf_{token_id}_{secrets.token_urlsafe(32)}"
        salt = secrets.token_hex(16)
        row = Token(
            id=token_id,
            name=name,
            role=role,
            salt=salt,
            secret_hash=hash_secret(secret, salt),
            created_at=_now(),
        )
        with self._sessions.begin() as session:
            session.add(row)
            session.flush()
            info = _info(row)
        return info, secret

    def list(self) -> list[TokenInfo]:
        with self._sessions() as session:
            rows = session.scalars(select(Token).order_by(Token.created_at, Token.id))
            return [_info(r) for r in rows]

    def get(self, token_id: str) -> TokenInfo | None:
        with self._sessions() as session:
            row = session.get(Token, token_id)
            return None if row is None else _info(row)

    def count(self, *, active_only: bool = False, role: str | None = None) -> int:
        query = select(func.count()).select_from(Token)
        if active_only:
            query = query.where(Token.revoked_at.is_(None))
        if role is not None:
            query = query.where(Token.role == role)
        with self._sessions() as session:
            return session.scalar(query) or 0

    def revoke(self, token_id: str) -> TokenInfo | None:
        """Revoke a token (again: a no-op keeping the first time); None if there is none."""
        with self._sessions.begin() as session:
            row = session.get(Token, token_id)
            if row is None:
                return None
            if row.revoked_at is None:
                row.revoked_at = _now()
            return _info(row)

    def authenticate(self, secret: str) -> TokenInfo | None:
        """The active token whose secret this is; None for an unknown, wrong or revoked one."""
        token_id = token_id_of(secret)
        if token_id is None:
            return None
        with self._sessions() as session:
            row = session.get(Token, token_id)
            if row is None:
                return None
            good = hmac.compare_digest(hash_secret(secret, row.salt), row.secret_hash)
            if not good or row.revoked_at is not None:
                return None
            info = _info(row)
        now = _now()
        if info.last_used_at is None or now - info.last_used_at > TOUCH_EVERY:
            with self._sessions.begin() as session:
                session.execute(update(Token).where(Token.id == info.id).values(last_used_at=now))
        return info
