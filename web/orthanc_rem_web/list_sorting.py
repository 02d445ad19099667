"""Sortable column headers of the study lists: each header whose column has an ordering in
``orthanc_rem.study_filters`` is a link to the same list sorted by it (server-side, so that the
order holds across pages and stays in the URL with the filters).

A first click sorts numbers and dates largest/newest first (what a physicist looks for: the
highest doses, the latest studies) and text A to Z; a click on the column the list is sorted by
turns the direction round.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from orthanc_rem.study_filters import DEFAULT_ORDER

#: Orderings whose first click sorts descending (numbers and dates); the others are text.
DESCENDING_FIRST = frozenset({"study_date", "total_dlp", "total_dap", "total_dose_rp"})


@dataclass(frozen=True)
class HeaderSort:
    """What a header link needs: the ``order_by`` it asks for and how the column is sorted now."""

    order_by: str | None  # None: the default order (left out of the URL)
    #: ``ascending``, ``descending`` or ``none``: the header's ``aria-sort``.
    state: str

    @property
    def arrow(self) -> str:
        return {"ascending": " ▲", "descending": " ▼"}.get(self.state, "")


def header_sort(current: str, key: str) -> HeaderSort:
    """The link of the header of ordering ``key`` when the list is ordered by ``current``."""
    if current == key:
        state, wanted = "ascending", f"-{key}"
    elif current == f"-{key}":
        state, wanted = "descending", key
    else:
        state, wanted = "none", f"-{key}" if key in DESCENDING_FIRST else key
    return HeaderSort(None if wanted == DEFAULT_ORDER else wanted, state)


def register(app: Flask) -> None:
    app.add_template_global(header_sort)
