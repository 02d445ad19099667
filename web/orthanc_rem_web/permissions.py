"""Who may do what in the dose browser: the manual's groups, checked on every page and endpoint.

The groups are OpenREM's: ``view`` (see dose data), ``export``, ``pid`` (see patient names, IDs and
birth dates), ``importsize`` (import patient sizes), ``importqr`` (query-retrieve) and ``admin``
(configuration and users; it does not imply the others). Views declare what they need with
:func:`require`; templates ask :func:`may`. Who the request's user is was decided by
``orthanc_rem_web.auth`` before the view runs (``g.dose_browser_user``: a session or, for the
JSON API, HTTP Basic with our users' credentials).

Without a user, a page redirects to the login page and the JSON API answers 401; a user outside
a required group gets 403. ``tests/test_permission_matrix.py`` fails for a view that declares
nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import abort, g, has_request_context, redirect, request, url_for

from orthanc_rem.users import ADMIN, EXPORT, GROUPS, IMPORT_QR, IMPORT_SIZE, PID, VIEW

__all__ = ["ADMIN", "EXPORT", "GROUPS", "IMPORT_QR", "IMPORT_SIZE", "PID", "VIEW", "may", "public", "require"]

View = TypeVar("View", bound=Callable[..., object])

#: The attribute ``require`` and ``public`` leave on a view, read by the permission-matrix test.
REQUIRED_GROUPS = "required_groups"


def require(*groups: str) -> Callable[[View], View]:
    """Decorate a view that only members of all ``groups`` may use; no groups: any logged-in user."""
    unknown = set(groups) - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown permission groups: {sorted(unknown)}")

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            user = g.get("dose_browser_user")
            if user is None:
                return _not_logged_in()
            missing = set(groups) - user.group_set
            if missing:
                abort(403, description=f"This needs the group(s) {', '.join(sorted(missing))}.")
            return view(*args, **kwargs)

        setattr(checked, REQUIRED_GROUPS, tuple(groups))
        return cast(View, checked)

    return decorate


def public(view: View) -> View:
    """Decorate a view anyone may use (the login page): declared, so that the matrix test knows."""
    setattr(view, REQUIRED_GROUPS, None)
    return view


def may(group: str) -> bool:
    """Whether the request's user belongs to ``group`` (for templates: links, columns, buttons)."""
    if group not in GROUPS:
        raise ValueError(f"unknown permission group: {group}")
    if not has_request_context():
        return False
    user = g.get("dose_browser_user")
    return user is not None and group in user.group_set


def _is_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _not_logged_in() -> Any:
    if _is_api() or request.method not in ("GET", "HEAD"):
        abort(401, description="Log in first (a session from the login page, or HTTP Basic for the API).")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
