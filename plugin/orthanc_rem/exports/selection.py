"""Which studies an export takes: exactly those the modality's study list shows for a query string.

The list pages, the API and exports read their filters with one module,
``orthanc_rem.study_filters``, so an export of a filtered list holds the studies the list shows,
whatever filters the lists gain. A parameter that is not a list filter is refused rather than
ignored, so that an export never holds more studies than the user asked for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select

from orthanc_rem import model, study_filters
from orthanc_rem.study_filters import BadParameter

#: Parameters of the list pages that are not filters; an export takes every page.
NOT_FILTERS = {"page", "per_page", "modality"}


def known_filters() -> set[str]:
    return {field.name for field in dataclasses.fields(study_filters.StudyFilter)} - NOT_FILTERS


def selected_studies(modality: str, args: Mapping[str, str], *, may_see_patient_data: bool = True) -> Select[Any]:
    """A ``SELECT`` of the ids of the studies the ``modality`` list shows for ``args``, in its order.

    ``may_see_patient_data`` is checked where the export is requested (the page passes the user's
    right); the worker that runs an accepted export reads the same filters again with it set.
    """
    given = {name for name, value in args.items() if value not in (None, "")}
    unknown = given - known_filters() - NOT_FILTERS
    if unknown:
        raise BadParameter(
            f"unknown filter(s) {', '.join(sorted(unknown))}: known are {', '.join(sorted(known_filters()))}."
        )
    parameters = {name: value for name, value in args.items() if name not in NOT_FILTERS}
    study_filter = study_filters.parse_study_filter(
        parameters, for_modality=modality, may_see_patient_data=may_see_patient_data
    )
    return study_filters.select_studies(study_filter).with_only_columns(model.Study.id)
