"""Query parameters shared by the pages and the API: every value a user can type is checked here
or in ``orthanc_rem.study_filters`` (the lists' filters), and a bad one raises ``BadParameter``
(answered with 400 and the message), never reaches SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orthanc_rem import study_filters
from orthanc_rem.study_filters import BadParameter, StudyFilter, parse_study_filter

__all__ = ["BadParameter", "ListQuery", "list_query", "modality_argument", "page_arguments", "per_page_choices"]

PER_PAGE_CHOICES = (10, 25, 50, 100, 200, 400)
API_PER_PAGE = range(1, 1001)
#: No list has this many pages; the bound keeps ``OFFSET`` (page - 1) * per_page inside the signed
#: 64-bit integers SQLite and PostgreSQL take (2^63 overflowed into an HTTP 500).
MAX_PAGE = 2**31 - 1
#: The study id in a URL: werkzeug's ``int`` converter takes any length, and an id past SQL's signed
#: 64-bit integers raised an overflow (HTTP 500) instead of "no such study" (404).
STUDY_ID = f"<int(max={2**63 - 1}):study_id>"


@dataclass(frozen=True)
class ListQuery:
    """A list request: the page, its size and the study filter (``orthanc_rem.study_filters``)."""

    page: int
    per_page: int
    study_filter: StudyFilter
    #: Keyset positions (``orthanc_rem.study_keyset``): the page after or before this row.
    after: str | None = None
    before: str | None = None

    def link_args(self, default_per_page: int, **changes: Any) -> dict[str, Any]:
        """Arguments for ``url_for`` that reproduce this query (defaults omitted), with ``changes``."""
        values: dict[str, Any] = dict(self.study_filter.parameters())
        values.pop("modality", None)  # the list's own URL says it; the API's callers pass it in changes
        values |= {"per_page": self.per_page if self.per_page != default_per_page else None, "page": self.page}
        values |= changes
        if values["page"] == 1:
            values["page"] = None
        return {key: value for key, value in values.items() if value is not None}


def page_arguments(args: Mapping[str, str], default_per_page: int, allowed: Sequence[int]) -> tuple[int, int]:
    page = _whole_number(args, "page", 1)
    if page > MAX_PAGE:
        raise BadParameter(f"page must be {MAX_PAGE} or less, not {page}.")
    per_page = _whole_number(args, "per_page", default_per_page)
    if per_page not in allowed:
        if isinstance(allowed, range):
            expected = f"between {allowed.start} and {allowed.stop - 1}"
        else:
            expected = "one of " + ", ".join(map(str, allowed))
        raise BadParameter(f"per_page must be {expected}, not {per_page}.")
    return page, per_page


def list_query(
    args: Mapping[str, str],
    default_per_page: int,
    allowed: Sequence[int],
    *,
    modality: str | None = None,
    may_see_patient_data: bool = False,
) -> ListQuery:
    """Page, page size and filter of a study list (``modality``: the list's; the API reads the parameter)."""
    page, per_page = page_arguments(args, default_per_page, allowed)
    study_filter = parse_study_filter(args, for_modality=modality, may_see_patient_data=may_see_patient_data)
    after, before = args.get("after") or None, args.get("before") or None
    if after is not None and before is not None:
        raise BadParameter("after and before cannot both be given.")
    return ListQuery(page, per_page, study_filter, after, before)


def modality_argument(args: Mapping[str, str]) -> str | None:
    """The ``modality`` filter, upper-cased; None when not given."""
    return study_filters.modality(args)


def per_page_choices(default_per_page: int) -> tuple[int, ...]:
    return tuple(sorted({*PER_PAGE_CHOICES, default_per_page}))


def _whole_number(args: Mapping[str, str], name: str, default: int) -> int:
    return study_filters.whole_number(args, name, default)
