"""Who is making the request, for what belongs to a user (export files)."""

from __future__ import annotations

from flask import has_request_context

from orthanc_rem_web import auth


def current_user_name() -> str | None:
    """The logged-in user's name; None outside a request or for nobody logged in."""
    if not has_request_context():
        return None
    user = auth.current_user()
    return None if user is None else user.name
