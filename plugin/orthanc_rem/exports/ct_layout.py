"""CT exports: OpenREM 0.8.1's ``ct_export`` columns, one block per CT irradiation event (TID 10013)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orthanc_rem import model
from orthanc_rem.exports.batch_keys import keys_in
from orthanc_rem.exports.columns import Column, number, text
from orthanc_rem.exports.layout import Layout, StudyIds
from orthanc_rem.exports.study_header import StudyDose

EVENT_COLUMNS: tuple[Column, ...] = (
    text("Protocol"),
    text("Type"),
    number("Exposure time"),
    number("Scanning length"),
    number("Slice thickness"),
    number("Total collimation"),
    number("Pitch"),
    number("No. sources"),
    number("CTDIvol"),
    text("Phantom"),
    number("DLP"),
    text("S1 name"),
    number("S1 kVp"),
    number("S1 max mA"),
    number("S1 mA"),
    number("S1 Exposure time/rotation"),
    text("S2 name"),
    number("S2 kVp"),
    number("S2 max mA"),
    number("S2 mA"),
    number("S2 Exposure time/rotation"),
    text("mA Modulation type"),
    text("Dose check details"),
    text("Comments"),
)

#: CTDIw phantom codes (CID 4052) as OpenREM prints them (#452).
PHANTOMS = {"113690": "16 cm", "113691": "32 cm"}

_dose, _event = model.CtRadiationDose, model.CtIrradiationEvent
_source, _check = model.CtXRaySource, model.CtDoseCheck


def read_ct(session: Session, study_ids: Sequence[int]) -> dict[int, StudyDose]:
    """Each table by the keys of its parent rows (dose reports, events, sources), so that PostgreSQL
    walks the foreign key indexes instead of hashing whole tables once per batch."""
    doses = (
        session.connection()
        .execute(
            select(_dose.id, _dose.study_fk, _dose.dlp_total_mgycm, _dose.comment)
            .where(keys_in(_dose.study_fk, study_ids))
            .order_by(_dose.id)
        )
        .all()
    )
    events = session.connection().execute(
        select(
            _event.id, _event.ct_radiation_dose_fk, _event.acquisition_protocol, _event.ct_acquisition_type_meaning,
            _event.exposure_time_s, _event.scanning_length_mm, _event.nominal_single_collimation_width_mm,
            _event.nominal_total_collimation_width_mm, _event.pitch_factor, _event.number_of_xray_sources,
            _event.mean_ctdivol_mgy, _event.ctdiw_phantom_type_value, _event.ctdiw_phantom_type_meaning,
            _event.dlp_mgycm, _event.xray_modulation_type, _event.comment,
        )
        .where(keys_in(_event.ct_radiation_dose_fk, [dose.id for dose in doses]))
        .order_by(_event.id)
    ).all()  # fmt: skip
    event_ids = [e[0] for e in events]  # ascending: the query orders by id
    sources: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    checks: dict[int, Any] = {}
    if event_ids:
        for source in session.connection().execute(
            select(
                _source.event_fk, _source.identification, _source.kvp_kv, _source.maximum_xray_tube_current_ma,
                _source.xray_tube_current_ma, _source.exposure_time_per_rotation_s,
            )
            .where(keys_in(_source.event_fk, event_ids))
            .order_by(_source.id)
        ).all():  # fmt: skip
            sources[source[0]].append(tuple(source[1:]))
        for check in session.scalars(select(_check).where(keys_in(_check.event_fk, event_ids))):
            checks[check.event_fk] = check
    by_dose: dict[int, list[Any]] = defaultdict(list)
    for event in events:
        by_dose[event[1]].append(event)

    studies: dict[int, StudyDose] = {}
    for dose in doses:
        study = studies.setdefault(dose.study_fk, StudyDose(values=[None]))
        dose_events = by_dose[dose.id]
        study.values[0] = add_report_dlp(study.values[0], dose.dlp_total_mgycm, (e.dlp_mgycm for e in dose_events))
        study.comment = joined_comment(study.comment, dose.comment)
        blocks, events_by_protocol = study.blocks, study.events
        for event in dose_events:
            values = _event_values(event, sources.get(event[0], ()), checks.get(event[0]) if checks else None)
            blocks.append(values)
            events_by_protocol.append((event[2], values))
    for study in studies.values():
        study.number_of_events = len(study.events)
    return studies


def add_report_dlp(
    study_dlp: float | None, report_dlp: float | None, event_dlps: Iterable[float | None]
) -> float | None:
    """The study's DLP total with one more dose report's: as ``study_document.dose_report_dlp_mgycm``,
    a report without a total counts its events' DLPs (continued studies have several reports)."""
    if report_dlp is None:
        known = [dlp for dlp in event_dlps if dlp is not None]
        report_dlp = sum(known) if known else None
    return study_dlp if report_dlp is None else (study_dlp or 0.0) + report_dlp


def joined_comment(study_comment: str | None, report_comment: str | None) -> str | None:
    """Study Comments: each dose report's comment, '; '-separated."""
    if not report_comment:
        return study_comment
    return f"{study_comment}; {report_comment}" if study_comment else report_comment


_NO_SOURCE: tuple[None, ...] = (None,) * 5


def _event_values(event: Any, sources: Sequence[tuple[Any, ...]], check: model.CtDoseCheck | None) -> list[Any]:
    """The columns in OpenREM's order; the event and source queries select them in that order (the
    positions below), since an export touches every one of them for each of 300,000 events."""
    return [
        *event[2:11],  # protocol ... CTDIvol
        PHANTOMS.get(event[11] or "", event[12]),
        event[13],  # DLP
        *(sources[0] if sources else _NO_SOURCE),  # name, kVp, max mA, mA, time per rotation
        *(sources[1] if len(sources) > 1 else _NO_SOURCE),
        event[14],  # modulation type
        dose_check_details(check) if check is not None else None,
        event[15],  # comment
    ]


def dose_check_details(check: model.CtDoseCheck | None) -> str | None:
    """OpenREM's one-cell account of TID 10015: which alerts and notifications were configured,
    the forward estimates, and who proceeded for which reason (NEMA XR 25)."""
    if check is None:
        return None
    parts: list[str] = []
    alerts = []
    if check.dlp_alert_value_configured:
        alerts.append(
            f"DLP alert is configured at {check.dlp_alert_value_mgycm} mGy.cm with an accumulated forward "
            f"estimate of {check.accumulated_dlp_forward_estimate_mgycm} mGy.cm"
        )
    if check.ctdivol_alert_value_configured:
        alerts.append(
            f"CTDIvol alert is configured at {check.ctdivol_alert_value_mgy} mGy with an accumulated forward "
            f"estimate of {check.accumulated_ctdivol_forward_estimate_mgy} mGy"
        )
    if alerts or check.alert_reason_for_proceeding or check.alert_person_name:
        parts.append("Dose Check Alerts: " + ". ".join(alerts))
        if check.alert_person_name:
            parts.append(f"Person authorizing irradiation: {check.alert_person_name}")
        if check.alert_reason_for_proceeding:
            parts.append(f"Reason for proceeding: {check.alert_reason_for_proceeding}")
    notifications = []
    if check.dlp_notification_value_configured:
        notifications.append(
            f"DLP notification is configured at {check.dlp_notification_value_mgycm} mGy.cm with an accumulated "
            f"forward estimate of {check.dlp_forward_estimate_mgycm} mGy.cm"
        )
    if check.ctdivol_notification_value_configured:
        notifications.append(
            f"CTDIvol notification is configured at {check.ctdivol_notification_value_mgy} mGy with an "
            f"accumulated forward estimate of {check.ctdivol_forward_estimate_mgy} mGy"
        )
    if notifications or check.notification_reason_for_proceeding or check.notification_person_name:
        parts.append("Dose Check Notifications: " + ". ".join(notifications))
        if check.notification_person_name:
            parts.append(f"Person authorizing irradiation: {check.notification_person_name}")
        if check.notification_reason_for_proceeding:
            parts.append(f"Reason for proceeding: {check.notification_reason_for_proceeding}")
    return ". ".join(parts) or None


def ct_protocols(session: Session, study_ids: StudyIds) -> list[str | None]:
    query = (
        select(_event.acquisition_protocol)
        .join(_dose, _dose.id == _event.ct_radiation_dose_fk)
        .where(_dose.study_fk.in_(study_ids))
        .distinct()
    )
    return list(session.scalars(query))


def ct_most_events(session: Session, study_ids: StudyIds) -> int:
    per_study = (
        select(func.count(_event.id).label("n"))
        .join(_dose, _dose.id == _event.ct_radiation_dose_fk)
        .where(_dose.study_fk.in_(study_ids))
        .group_by(_dose.study_fk)
        .subquery()
    )
    return int(session.scalar(select(func.max(per_study.c.n))) or 0)


CT = Layout(
    modality="CT",
    study_columns=(number("DLP total (mGy.cm)"),),
    block_prefix="E",
    block_columns=EVENT_COLUMNS,
    event_columns=EVENT_COLUMNS,
    csv_has_blocks=True,
    read=read_ct,
    protocols=ct_protocols,
    most_blocks=ct_most_events,
    studies_per_batch=5000,
)
