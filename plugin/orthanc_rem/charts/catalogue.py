"""Every chart of the manual, per modality (feature inventory part 1 §8.4, part 2 §10.1): its name in
URLs, its title, what kind of chart it is, its unit and the rows it is computed from.

Kinds: ``average`` (bars of mean and median per category, with n and optional histograms),
``frequency`` (pie of n per category: the rows of the average chart beside it, so both count the
same things), ``over_time`` (mean and median per category and day/week/month/year), ``workload``
(studies per weekday, then per hour; every study, whatever its dose) and ``scatter`` (one point per
mammography exposure against the compressed breast thickness).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from orthanc_rem import model
from orthanc_rem.charts import sources
from orthanc_rem.charts.options import ChartOptions

Rows = Callable[[Session, sources.Selection, ChartOptions], Select[Any]]
#: The pages show DAP in cGy.cm2 (and the list filters take it so); it is stored in Gy.m2.
CGYCM2_PER_GYM2 = 1e6


@dataclass(frozen=True)
class Chart:
    modality: str
    name: str
    title: str
    kind: str
    unit: str | None
    rows: Rows
    #: The list filter a category drills down to (None: no filter narrows to it).
    category_parameter: str | None = None
    #: The list's range filters a histogram bin drills down to (study totals only).
    range_parameters: tuple[str, str] | None = None
    #: What the category is, for axis titles.
    category_label: str = ""
    #: Scatter charts: what x and y are.
    axes: tuple[str, str] | None = None
    #: CT acquisition charts: the ``ct_chart_event`` column averaged, so that the statistics group
    #: by what the table stores and name the groups afterwards (``charts.named_groups``).
    narrow_value: Any = None


# --- rows ---------------------------------------------------------------------------------------------

_ct_event = model.CtIrradiationEvent
_event = model.ProjectionIrradiationEvent
_source = model.XRaySource
_totals = model.StudyTotals
_study = model.Study


def _ct_acquisitions(value: Any) -> Rows:
    return lambda _s, filtered, o: sources.ct_chart_events(filtered, o, value)


def _ct_events_per_study_description(value: Any) -> Rows:
    return lambda _s, filtered, o: sources.ct_events(filtered, o, _study.study_description, value, localisers=False)


def _totals_by(name: Any, value: Any) -> Rows:
    return lambda _s, filtered, o: sources.study_totals(filtered, o, name, value)


def _events_per_study(name: Any, projection: bool) -> Rows:
    return lambda _s, filtered, o: sources.events_per_study(filtered, o, name, projection)


def _projection_acquisitions(value: Any, with_source: bool) -> Rows:
    return lambda _s, filtered, o: sources.projection_events(filtered, o, value, with_source)


def _mammography(value: Any) -> Rows:
    return lambda _s, filtered, o: sources.mammography_points(filtered, o, value)


def _workload(session: Session, filtered: sources.Selection, _o: ChartOptions) -> Select[Any]:
    return sources.workload(session, filtered)


_CT_DLP = _ct_acquisitions(model.CtChartEvent.dlp_mgycm)
_CT_STUDY_DLP = _totals_by(_study.study_description, _totals.total_dlp_mgycm)
_CT_REQUEST_DLP = _totals_by(sources.REQUESTED_PROCEDURE, _totals.total_dlp_mgycm)
_DX_DAP = _projection_acquisitions(_event.dose_area_product_gym2 * CGYCM2_PER_GYM2, False)
_DX_KVP = _projection_acquisitions(_source.kvp_kv, True)
_DX_MAS = _projection_acquisitions(_source.exposure_uas / 1000.0, True)
_STUDY_DAP = _totals_by(_study.study_description, _totals.total_dap_gym2 * CGYCM2_PER_GYM2)
_REQUEST_DAP = _totals_by(sources.REQUESTED_PROCEDURE, _totals.total_dap_gym2 * CGYCM2_PER_GYM2)

_PROTOCOL, _DESCRIPTION, _REQUEST = "acquisition_protocol", "study_description", "requested_procedure"
_DLP_RANGE, _DAP_RANGE = ("dlp_from", "dlp_until"), ("dap_from", "dap_until")
_LABELS = {_PROTOCOL: "Acquisition protocol", _DESCRIPTION: "Study description", _REQUEST: "Requested procedure"}


def _chart(modality: str, name: str, title: str, kind: str, unit: str | None, rows: Rows,
           by: str | None = None, **more: Any) -> Chart:  # fmt: skip
    return Chart(modality, name, title, kind, unit, rows, by, category_label=_LABELS.get(by or "", ""), **more)


CHARTS: tuple[Chart, ...] = (
    # CT (manual: CT chart options, L5330-5352)
    _chart("CT", "dlp-per-acquisition-protocol", "DLP per acquisition protocol", "average", "mGy.cm", _CT_DLP,
           _PROTOCOL, narrow_value=model.CtChartEvent.dlp_mgycm),
    _chart("CT", "ctdivol-per-acquisition-protocol", "CTDIvol per acquisition protocol", "average", "mGy",
           _ct_acquisitions(model.CtChartEvent.mean_ctdivol_mgy), _PROTOCOL,
           narrow_value=model.CtChartEvent.mean_ctdivol_mgy),
    _chart("CT", "acquisition-frequency", "Acquisition protocol frequency", "frequency", None, _CT_DLP, _PROTOCOL,
           narrow_value=model.CtChartEvent.dlp_mgycm),
    _chart("CT", "dlp-per-study-description", "DLP per study description", "average", "mGy.cm", _CT_STUDY_DLP,
           _DESCRIPTION, range_parameters=_DLP_RANGE),
    _chart("CT", "ctdivol-per-study-description", "CTDIvol per study description", "average", "mGy",
           _ct_events_per_study_description(_ct_event.mean_ctdivol_mgy), _DESCRIPTION),
    _chart("CT", "study-frequency", "Study description frequency", "frequency", None, _CT_STUDY_DLP, _DESCRIPTION),
    _chart("CT", "events-per-study-description", "Number of events per study description", "average", None,
           _events_per_study(_study.study_description, False), _DESCRIPTION),
    _chart("CT", "dlp-per-requested-procedure", "DLP per requested procedure", "average", "mGy.cm",
           _CT_REQUEST_DLP, _REQUEST, range_parameters=_DLP_RANGE),
    _chart("CT", "requested-procedure-frequency", "Requested procedure frequency", "frequency", None,
           _CT_REQUEST_DLP, _REQUEST),
    _chart("CT", "events-per-requested-procedure", "Number of events per requested procedure", "average", None,
           _events_per_study(sources.REQUESTED_PROCEDURE, False), _REQUEST),
    _chart("CT", "workload", "Study workload", "workload", None, _workload),
    _chart("CT", "dlp-over-time", "Study DLP over time", "over_time", "mGy.cm", _CT_STUDY_DLP, _DESCRIPTION),
    # Radiography (L5354-5369)
    _chart("DX", "dap-per-acquisition-protocol", "DAP per acquisition protocol", "average", "cGy.cm2", _DX_DAP,
           _PROTOCOL),
    _chart("DX", "acquisition-frequency", "Acquisition protocol frequency", "frequency", None, _DX_DAP, _PROTOCOL),
    _chart("DX", "kvp-per-acquisition-protocol", "kVp per acquisition protocol", "average", "kV", _DX_KVP, _PROTOCOL),
    _chart("DX", "mas-per-acquisition-protocol", "mAs per acquisition protocol", "average", "mA.s", _DX_MAS,
           _PROTOCOL),
    _chart("DX", "dap-per-study-description", "DAP per study description", "average", "cGy.cm2", _STUDY_DAP,
           _DESCRIPTION, range_parameters=_DAP_RANGE),
    _chart("DX", "study-frequency", "Study description frequency", "frequency", None, _STUDY_DAP, _DESCRIPTION),
    _chart("DX", "dap-per-requested-procedure", "DAP per requested procedure", "average", "cGy.cm2", _REQUEST_DAP,
           _REQUEST, range_parameters=_DAP_RANGE),
    _chart("DX", "requested-procedure-frequency", "Requested procedure frequency", "frequency", None, _REQUEST_DAP,
           _REQUEST),
    _chart("DX", "events-per-study-description", "Number of events per study description", "average", None,
           _events_per_study(_study.study_description, True), _DESCRIPTION),
    _chart("DX", "events-per-requested-procedure", "Number of events per requested procedure", "average", None,
           _events_per_study(sources.REQUESTED_PROCEDURE, True), _REQUEST),
    _chart("DX", "workload", "Study workload", "workload", None, _workload),
    _chart("DX", "dap-over-time", "Acquisition DAP over time", "over_time", "cGy.cm2", _DX_DAP, _PROTOCOL),
    _chart("DX", "kvp-over-time", "Acquisition kVp over time", "over_time", "kV", _DX_KVP, _PROTOCOL),
    _chart("DX", "mas-over-time", "Acquisition mAs over time", "over_time", "mA.s", _DX_MAS, _PROTOCOL),
    # Fluoroscopy (L5371-5375)
    _chart("RF", "dap-per-study-description", "DAP per study description", "average", "cGy.cm2", _STUDY_DAP,
           _DESCRIPTION, range_parameters=_DAP_RANGE),
    _chart("RF", "study-frequency", "Study description frequency", "frequency", None, _STUDY_DAP, _DESCRIPTION),
    _chart("RF", "workload", "Study workload", "workload", None, _workload),
    # Mammography (L5377-5389)
    _chart("MG", "agd-vs-thickness", "AGD vs compressed breast thickness", "scatter", "mGy",
           _mammography(_source.average_glandular_dose_mgy), axes=("Compressed breast thickness (mm)", "AGD (mGy)")),
    _chart("MG", "kvp-vs-thickness", "kVp vs compressed breast thickness", "scatter", "kV",
           _mammography(_source.kvp_kv), axes=("Compressed breast thickness (mm)", "kVp (kV)")),
    _chart("MG", "mas-vs-thickness", "mAs vs compressed breast thickness", "scatter", "mA.s",
           _mammography(_source.exposure_uas / 1000.0), axes=("Compressed breast thickness (mm)", "mAs")),
    _chart("MG", "workload", "Study workload", "workload", None, _workload),
)  # fmt: skip


#: The charts the manual's chart options tick by default (L5337-5340).
DEFAULT_CHARTS: dict[str, tuple[str, ...]] = {
    "CT": ("dlp-per-acquisition-protocol",),
    "DX": ("dap-per-acquisition-protocol", "dap-per-study-description", "study-frequency",
           "dap-per-requested-procedure", "requested-procedure-frequency"),
    "RF": ("dap-per-study-description",),
    "MG": ("agd-vs-thickness",),
}  # fmt: skip


def chart(modality: str, name: str) -> Chart | None:
    for candidate in CHARTS:
        if candidate.modality == modality and candidate.name == name:
            return candidate
    return None


def charts_of(modality: str) -> list[Chart]:
    return [candidate for candidate in CHARTS if candidate.modality == modality]
