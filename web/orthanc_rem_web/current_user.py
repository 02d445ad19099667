"""Who is making the request, for what belongs to a user (export files).

INTEGRATION POINT: login is being built in parallel (issue 7). Until it lands nobody is logged in
and this answers None; the login work makes it return the logged-in user's name.
"""

from __future__ import annotations


def current_user_name() -> str | None:
    return None
