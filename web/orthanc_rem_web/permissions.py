"""Who may do what in the dose browser: the manual's groups, checked on every page and endpoint.

The groups are OpenREM's: ``view`` (see dose data), ``export``, ``pid`` (see patient names, IDs and
birth dates), ``importsize`` (import patient sizes), ``importqr`` (query-retrieve) and ``admin``
(configuration and users; it does not imply the others). Views declare what they need with
:func:`require`; templates ask :func:`may`.

INTEGRATION INTERFACE: users and login are being built (issue 7). Until they land, ``require`` lets
every request through and ``may`` answers yes, exactly as the dose browser behaved before; the
login work replaces both bodies without changing their signatures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

VIEW = "view"
EXPORT = "export"
PID = "pid"
IMPORT_SIZE = "importsize"
IMPORT_QR = "importqr"
ADMIN = "admin"
GROUPS = (VIEW, EXPORT, PID, IMPORT_SIZE, IMPORT_QR, ADMIN)

View = TypeVar("View", bound=Callable[..., object])


def require(*groups: str) -> Callable[[View], View]:
    """Decorate a view that only members of all ``groups`` may use."""
    unknown = set(groups) - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown permission groups: {sorted(unknown)}")

    def decorate(view: View) -> View:
        return view

    return decorate


def may(group: str) -> bool:
    """Whether the request's user belongs to ``group`` (for templates: links, columns, buttons)."""
    if group not in GROUPS:
        raise ValueError(f"unknown permission group: {group}")
    return True
