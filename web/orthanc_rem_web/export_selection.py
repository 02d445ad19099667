"""Which studies an export takes: exactly those the modality's study list shows for a query string.

INTEGRATION POINT: the one place exports depend on the list filters. ``list_query`` (query.py)
reads and checks the query string, ``study_document._filtered`` turns it into SQL; when the list
filters grow (more filters, ordering), this function is where exports follow them. Any query
parameter that is not a list filter is refused rather than silently ignored, so that an export
never holds more studies than the user asked for; new ``ListQuery`` fields become known here
without a change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, select

from orthanc_rem import model, study_document
from orthanc_rem_web.query import API_PER_PAGE, BadParameter, ListQuery, list_query

#: Parameters of the list pages that are not filters; an export takes every page.
NOT_FILTERS = {"page", "per_page", "modality"}
#: The list filters passed on to ``study_document._filtered`` below.
APPLIED = {"date_from", "date_until", "display_name"}


def known_filters() -> set[str]:
    return {field.name for field in dataclasses.fields(ListQuery)} - NOT_FILTERS


def selected_studies(modality: str, args: Mapping[str, str]) -> Select[Any]:
    """A ``SELECT`` of the ids of the studies the ``modality`` list shows for ``args``."""
    given = {name for name, value in args.items() if value not in (None, "")}
    not_applied = (given & known_filters()) - APPLIED
    if not_applied:  # a list filter added after this function was written: never export more than asked
        raise BadParameter(f"the export does not apply the filter(s) {', '.join(sorted(not_applied))} yet.")
    unknown = given - known_filters() - NOT_FILTERS
    if unknown:
        raise BadParameter(
            f"unknown filter(s) {', '.join(sorted(unknown))}: known are {', '.join(sorted(known_filters()))}."
        )
    query = list_query({k: v for k, v in args.items() if k not in NOT_FILTERS}, 1, API_PER_PAGE)
    return study_document._filtered(
        select(model.Study.id), modality, query.date_from, query.date_until, query.display_name
    )
