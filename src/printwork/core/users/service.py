"""Dashboard users and their signed-in sessions.

A user belongs to one merchant or is an operator. Passwords are hashed with Argon2id; a session
is a random token whose hash is kept with the CSRF token its forms carry. Repeated failed
sign-ins lock the account for a while, so guessing costs time whoever sends the guesses.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from printwork.core.errors import CoreError, EntityNotFound
from printwork.core.merchants.models import Merchant
from printwork.core.merchants.service import ENVIRONMENTS, utcnow
from printwork.core.users.models import DashboardSession, User

SESSION_LIFETIME = timedelta(hours=12)
MAX_FAILED_SIGN_INS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters
# Verified against when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class InvalidUserInput(CoreError):
    code = "InvalidUserInput"


class SignInRefused(CoreError):
    """Wrong email or password, a disabled user, or a locked account: told apart only in `reason`."""

    code = "SignInRefused"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class UserView:
    id: int
    email: str
    merchant_id: int | None
    merchant_name: str | None
    is_operator: bool
    created_at: datetime
    disabled_at: datetime | None
    last_sign_in_at: datetime | None


@dataclass(frozen=True)
class SignedIn:
    """Who a session belongs to, as every dashboard request sees it."""

    session_id: int
    user_id: int
    email: str
    merchant_id: int | None
    merchant_name: str | None
    is_operator: bool
    csrf_token: str
    environment: str
    expires_at: datetime


@dataclass(frozen=True)
class NewSession:
    token: str  # for the cookie; never stored
    signed_in: SignedIn


def _normalised_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 320:
        raise InvalidUserInput(f"{email!r} is not an email address")
    return email


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidUserInput(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise InvalidUserInput("a password has at most 1024 characters")


def new_initial_password() -> str:
    """For a user an operator invites: shown to the operator once, to hand over."""
    return secrets.token_urlsafe(15)


def create_user(session: Session, email: str, password: str, *, merchant_name: str | None = None,
                operator: bool = False) -> UserView:
    if operator == (merchant_name is not None):
        raise InvalidUserInput("a user belongs to one merchant or is an operator")
    email = _normalised_email(email)
    check_password(password)
    merchant_id = None
    if merchant_name is not None:
        merchant_id = session.execute(select(Merchant.id).where(Merchant.name == merchant_name)).scalar_one_or_none()
        if merchant_id is None:
            raise EntityNotFound(f"no merchant named {merchant_name!r}")
    if session.execute(select(User.id).where(User.email == email)).first() is not None:
        raise InvalidUserInput(f"a user {email} already exists")
    user = User(email=email, password_hash=_hasher.hash(password), merchant_id=merchant_id, is_operator=operator,
                created_at=utcnow(), failed_sign_ins=0)
    session.add(user)
    session.flush()
    return _view(user, merchant_name)


def _view(user: User, merchant_name: str | None) -> UserView:
    return UserView(user.id, user.email, user.merchant_id, merchant_name, user.is_operator, user.created_at,
                    user.disabled_at, user.last_sign_in_at)


def list_users(session: Session, merchant_id: int | None = None) -> list[UserView]:
    query = select(User, Merchant.name).outerjoin(Merchant, Merchant.id == User.merchant_id).order_by(User.email)
    if merchant_id is not None:
        query = query.where(User.merchant_id == merchant_id)
    return [_view(user, name) for user, name in session.execute(query).all()]


def set_password(session: Session, email: str, password: str) -> UserView:
    """A new password (for a user who lost theirs); it also lifts a sign-in lock and ends their sessions."""
    check_password(password)
    user = session.execute(select(User).where(User.email == _normalised_email(email))).scalar_one_or_none()
    if user is None:
        raise EntityNotFound(f"no user {email}")
    user.password_hash = _hasher.hash(password)
    user.failed_sign_ins = 0
    user.locked_until = None
    session.execute(delete(DashboardSession).where(DashboardSession.user_id == user.id))
    session.flush()
    name = session.execute(select(Merchant.name).where(Merchant.id == user.merchant_id)).scalar_one_or_none()
    return _view(user, name)


def disable_user(session: Session, email: str) -> UserView:
    """Disable a user and end every session they have."""
    user = session.execute(select(User).where(User.email == _normalised_email(email))).scalar_one_or_none()
    if user is None:
        raise EntityNotFound(f"no user {email}")
    if user.disabled_at is None:
        user.disabled_at = utcnow()
    session.execute(delete(DashboardSession).where(DashboardSession.user_id == user.id))
    session.flush()
    name = session.execute(select(Merchant.name).where(Merchant.id == user.merchant_id)).scalar_one_or_none()
    return _view(user, name)


def sign_in(session: Session, email: str, password: str, *, now: datetime | None = None) -> NewSession | SignInRefused:
    """A new session for the user, or why not. A refusal is returned, not raised, because the
    failed attempt it counted must be committed too."""
    now = now or utcnow()
    try:
        email = _normalised_email(email)
    except InvalidUserInput:
        email = ""
    user = session.execute(select(User).where(User.email == email).with_for_update()).scalar_one_or_none() \
        if email else None
    if user is None:
        _verify(_DUMMY_HASH, password)
        return SignInRefused("wrong email or password", "unknown")
    if user.locked_until is not None and user.locked_until > now:
        return SignInRefused("too many failed sign-ins: try again later", "locked")
    if not _verify(user.password_hash, password):
        user.failed_sign_ins += 1
        if user.failed_sign_ins >= MAX_FAILED_SIGN_INS:
            user.locked_until, user.failed_sign_ins = now + LOCKOUT, 0
        session.flush()
        return SignInRefused("wrong email or password", "password")
    if user.disabled_at is not None:
        return SignInRefused("wrong email or password", "disabled")
    user.failed_sign_ins, user.locked_until, user.last_sign_in_at = 0, None, now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    token = secrets.token_urlsafe(32)
    row = DashboardSession(token_hash=_token_hash(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                           environment="sandbox", created_at=now, expires_at=now + SESSION_LIFETIME)
    session.add(row)
    session.execute(delete(DashboardSession).where(DashboardSession.expires_at < now))
    session.flush()
    name = session.execute(select(Merchant.name).where(Merchant.id == user.merchant_id)).scalar_one_or_none()
    return NewSession(token, SignedIn(row.id, user.id, user.email, user.merchant_id, name, user.is_operator,
                                      row.csrf_token, row.environment, row.expires_at))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def signed_in(session: Session, token: str, *, now: datetime | None = None) -> SignedIn | None:
    """The live session the cookie's token names, or None (unknown, expired, user disabled)."""
    now = now or utcnow()
    row = session.execute(
        select(DashboardSession, User, Merchant.name)
        .join(User, User.id == DashboardSession.user_id)
        .outerjoin(Merchant, Merchant.id == User.merchant_id)
        .where(DashboardSession.token_hash == _token_hash(token))
    ).first()
    if row is None:
        return None
    dashboard_session, user, name = row
    if dashboard_session.expires_at <= now or user.disabled_at is not None:
        return None
    return SignedIn(dashboard_session.id, user.id, user.email, user.merchant_id, name, user.is_operator,
                    dashboard_session.csrf_token, dashboard_session.environment, dashboard_session.expires_at)


def sign_out(session: Session, session_id: int) -> None:
    session.execute(delete(DashboardSession).where(DashboardSession.id == session_id))


def switch_environment(session: Session, session_id: int, environment: str) -> None:
    if environment not in ENVIRONMENTS:
        raise InvalidUserInput(f"environment must be one of {', '.join(ENVIRONMENTS)}")
    session.execute(update(DashboardSession).where(DashboardSession.id == session_id).values(environment=environment))
