"""The dose browser's users: add, change, remove, list, and check a password.

No Flask here: the command line (``orthanc-rem user``), the web pages and the plugin's start-up
(``ORTHANC_REM_ADMIN_PASSWORD``) all call these functions. Passwords are kept as werkzeug scrypt
hashes (salted, memory-hard; werkzeug is already a dependency through Flask, so no new package).

Groups are OpenREM's (manual, "Users and groups"): ``view`` (dose data), ``export``, ``pid``
(patient names, IDs, birth dates), ``importsize``, ``importqr`` and ``admin`` (users and
configuration). ``admin`` does not imply the others, as in OpenREM.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from orthanc_rem import login_sessions
from orthanc_rem.model import DoseBrowserUser

VIEW = "view"
EXPORT = "export"
PID = "pid"
IMPORT_SIZE = "importsize"
IMPORT_QR = "importqr"
ADMIN = "admin"
GROUPS = (VIEW, EXPORT, PID, IMPORT_SIZE, IMPORT_QR, ADMIN)

#: The account ``ORTHANC_REM_ADMIN_PASSWORD`` creates and resets at each start (scripts/serve).
ADMIN_USER = "admin"
ADMIN_PASSWORD_VARIABLE = "ORTHANC_REM_ADMIN_PASSWORD"
MINIMUM_PASSWORD_LENGTH = 8
#: A hash checked against a missing user, so that a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password of anyone", method="scrypt")


class UserError(ValueError):
    """A request about users that cannot be done: the message says why, for the page or the CLI."""


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def parse_groups(text: str | Iterable[str]) -> frozenset[str]:
    """``view,export`` (or a list of names) as a set of known groups; unknown names are an error."""
    names = text.split(",") if isinstance(text, str) else list(text)
    groups = frozenset(name.strip().lower() for name in names if name.strip())
    unknown = groups - set(GROUPS)
    if unknown:
        raise UserError(f"unknown group(s) {', '.join(sorted(unknown))}; the groups are {', '.join(GROUPS)}")
    return groups


def _group_text(groups: Iterable[str]) -> str:
    return ",".join(group for group in GROUPS if group in set(groups))


def check_name(name: str) -> str:
    """A user name as stored: trimmed, 1-150 characters, printable, no ``:`` (HTTP Basic splits on it)."""
    name = name.strip()
    if not name or len(name) > 150:
        raise UserError("a user name has 1 to 150 characters")
    if ":" in name or not name.isprintable():
        raise UserError("a user name cannot contain ':' or control characters")
    return name


def check_password(password: str) -> str:
    if len(password) < MINIMUM_PASSWORD_LENGTH:
        raise UserError(f"a password has at least {MINIMUM_PASSWORD_LENGTH} characters")
    if not password.isprintable():
        raise UserError("a password cannot contain control characters (line breaks, tabs)")
    return password


def hash_password(password: str) -> str:
    return generate_password_hash(check_password(password), method="scrypt")


def find_user(session: Session, name: str) -> DoseBrowserUser | None:
    return session.scalar(select(DoseBrowserUser).where(DoseBrowserUser.name == name.strip()))


def get_user(session: Session, name: str) -> DoseBrowserUser:
    user = find_user(session, name)
    if user is None:
        raise UserError(f"there is no user {name!r}")
    return user


def list_users(session: Session) -> list[DoseBrowserUser]:
    return list(session.scalars(select(DoseBrowserUser).order_by(DoseBrowserUser.name)))


def add_user(session: Session, name: str, password: str, groups: Iterable[str]) -> DoseBrowserUser:
    """A new active user; the caller commits."""
    name = check_name(name)
    if find_user(session, name) is not None:
        raise UserError(f"user {name!r} exists already")
    user = DoseBrowserUser(
        name=name,
        password_hash=hash_password(password),
        groups=_group_text(parse_groups(groups)),
        active=True,
        created=now(),
    )
    session.add(user)
    session.flush()
    return user


def change_user(
    session: Session,
    name: str,
    *,
    groups: Iterable[str] | None = None,
    password: str | None = None,
    active: bool | None = None,
) -> DoseBrowserUser:
    """Change what is given, keep the rest; the caller commits.

    A new password or deactivation ends every session of the user at once (a password is changed
    because it may be known to someone else; the caller opens a new session for a user who changed
    their own)."""
    user = get_user(session, name)
    if groups is not None:
        user.groups = _group_text(parse_groups(groups))
    if password is not None:
        user.password_hash = hash_password(password)
        login_sessions.end_user_sessions(session, user)
    if active is not None:
        user.active = active
        if not active:
            login_sessions.end_user_sessions(session, user)
    session.flush()
    return user


def remove_user(session: Session, name: str) -> None:
    user = get_user(session, name)
    login_sessions.end_user_sessions(session, user)
    session.delete(user)
    session.flush()


def end_sessions(session: Session, name: str) -> int:
    """End every login session of a user (how many); the caller commits."""
    return login_sessions.end_user_sessions(session, get_user(session, name))


def authenticate(session: Session, name: str, password: str) -> DoseBrowserUser | None:
    """The active user with this name and password, else None (same cost whether the name exists)."""
    user = find_user(session, name) if name.strip() and ":" not in name else None
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def ensure_admin(session: Session, password: str) -> DoseBrowserUser:
    """The account ``admin`` with every group, active, with this password (created if missing)."""
    user = find_user(session, ADMIN_USER)
    if user is None:
        return add_user(session, ADMIN_USER, password, GROUPS)
    return change_user(session, ADMIN_USER, groups=GROUPS, password=password, active=True)


def ensure_admin_from_environment(session: Session, environ: Mapping[str, str]) -> bool:
    """Apply ``ORTHANC_REM_ADMIN_PASSWORD`` if set (scripts/serve always sets it); commits."""
    password = environ.get(ADMIN_PASSWORD_VARIABLE, "")
    if not password:
        return False
    user = find_user(session, ADMIN_USER)
    if user is not None and user.active and user.group_set == set(GROUPS):
        if check_password_hash(user.password_hash, password):
            return True  # nothing to change: keep every open session
    ensure_admin(session, password)
    session.commit()
    return True
