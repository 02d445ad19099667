"""Reading SR content trees (PS3.3 C.17.3) without knowing which template built them.

A content item is a ``pydicom.Dataset`` with a ValueType, a ConceptNameCodeSequence and, for
containers, a ContentSequence. The template modules (``tid10011`` …) ask this module for the
children of an item by concept and for their values, already converted to the unit they want.

Everything here is forgiving about what is *absent* (it returns ``None``) and never stores what is
*wrong*. Two kinds of wrong, read by :func:`read_item`:

* a value that cannot be a measurement (text where a number belongs, NaN or ±Infinity, a negative
  dose) raises :class:`InvalidValue`: the item is left empty with a warning on the object, never
  stored and never a reason to lose the report;
* an item of the wrong value type or a unit we do not know raises :class:`ExtractionError` naming
  the item. For an optional item that is a warning too; for an item the template requires (the
  dose values of an event: CTDIvol, DLP, DAP, dose at the RP, AGD and their totals) it rejects the
  report, because a report whose doses we cannot interpret is quarantined for a fix and a re-run.

The package keeps one concept per module: ``codes`` (when two codes are the same concept, SNOMED
RT/CT), ``text_and_dates`` (text, DA/TM/DT), ``units`` (UCUM units, invalid values),
``content_items`` (children by concept, CODE/TEXT/... values) and ``measurements`` (NUM values). The
template modules use them through this namespace (``sr.num``, ``sr.children`` …).
"""

from __future__ import annotations

from orthanc_rem.extraction.sr.codes import SRT_TO_SCT, canonical_code, code_from, same_concept
from orthanc_rem.extraction.sr.content_items import (
    ContentItem,
    child_value,
    children,
    code,
    concept_of,
    datetime_,
    display,
    expect_value_type,
    first_child,
    label,
    person_name,
    read_item,
    text,
    uid,
    within,
)
from orthanc_rem.extraction.sr.measurements import (
    child_num,
    child_nums,
    count,
    dimensionless,
    mean_without_zeros,
    measured_values,
    num,
    values_in,
)
from orthanc_rem.extraction.sr.text_and_dates import (
    clean_text,
    combine_date_time,
    dataset_text,
    parse_da,
    parse_dt,
    parse_tm,
)
from orthanc_rem.extraction.sr.units import (
    NON_NEGATIVE_DIMENSIONS,
    UNIT_ALIASES,
    InvalidValue,
    UnitError,
    checked_measurement,
    convert,
    dimension_of,
    measured_number,
)

__all__ = [
    "NON_NEGATIVE_DIMENSIONS",
    "SRT_TO_SCT",
    "UNIT_ALIASES",
    "ContentItem",
    "InvalidValue",
    "UnitError",
    "canonical_code",
    "checked_measurement",
    "child_num",
    "child_nums",
    "child_value",
    "children",
    "clean_text",
    "code",
    "code_from",
    "combine_date_time",
    "concept_of",
    "convert",
    "count",
    "dataset_text",
    "datetime_",
    "dimension_of",
    "dimensionless",
    "display",
    "expect_value_type",
    "first_child",
    "label",
    "mean_without_zeros",
    "measured_number",
    "measured_values",
    "num",
    "parse_da",
    "parse_dt",
    "parse_tm",
    "person_name",
    "read_item",
    "same_concept",
    "text",
    "uid",
    "values_in",
    "within",
]
