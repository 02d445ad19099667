"""The manual's query filtering logic ("Query filtering logic", OpenREM 0.8.1), one rule per function.

Each function keeps or drops responses in place, as OpenREM deletes its response rows, and takes
what it needs from the PACS (image-level answers) as a callable, so that every rule can be tested
with the manual's examples and no network. The order the rules run in is ``query_run``'s job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from orthanc_rem.qr.options import MODALITY_GROUPS, QueryOptions
from orthanc_rem.qr.responses import ESR, RDSR, SECONDARY_CAPTURE, ImageResponse, SeriesResponse, StudyResponse

#: (study, series, first image only) -> the series' image-level answers.
ImagesOf = Callable[[StudyResponse, SeriesResponse, bool], list[ImageResponse]]
#: Study Instance UID -> SOP Instance UIDs processed for it, or None for a study not in the database.
ProcessedUidsOf = Callable[[str], "set[str] | None"]

#: Philips CT dose summary secondary captures carry this series description.
PHILIPS_DOSE_INFO = "dose info"
#: With no series descriptions returned, a series of more than this many images is no dose info.
MAX_DOSE_INFO_IMAGES = 5


# --- study level ------------------------------------------------------------------------------------


@dataclass
class ModalityMatching:
    """What the study-level answers say about the PACS (manual: "detection of a PACS that ignores
    ModalitiesInStudy"; OpenREM #284, #626).

    ``returned``: ModalitiesInStudy comes back populated. ``matching``: the PACS matched on it;
    once an answer lacks the modality asked for, the PACS returned everything and querying the
    other modalities would only fetch the same studies again.
    """

    returned: bool = False
    matching: bool = True

    def assess(self, modality: str, answers: Iterable[StudyResponse], use_modality_tag: bool) -> None:
        for study in answers:
            if study.modalities_in_study:
                self.returned = True
                if modality not in study.modalities_in_study:
                    self.matching = False
                    return
            else:
                self.returned = False
                if use_modality_tag:
                    # Impax-like: no ModalitiesInStudy, but the Modality key made it match: go on.
                    return
                self.matching = False
                return


def without_repeats(studies: list[StudyResponse]) -> list[StudyResponse]:
    """A study found by several modality queries (CT and SR...) is kept once, the first time."""
    seen: set[str] = set()
    kept = []
    for study in studies:
        if study.study_instance_uid not in seen:
            seen.add(study.study_instance_uid)
            kept.append(study)
    return kept


def keep_sr_only_studies(studies: list[StudyResponse]) -> list[StudyResponse]:
    """SR-only query: a study whose returned ModalitiesInStudy holds anything but SR is removed
    (it has images, and is found with a modality query instead). Not returned: kept for now."""
    return [s for s in studies if not s.modalities_in_study or s.modalities_in_study == ["SR"]]


def _matches(value: str | None, terms: tuple[str, ...]) -> bool:
    return any(term in (value or "").lower() for term in terms)


def filter_by_terms(
    items: list[StudyResponse] | list[SeriesResponse], attribute: str, terms: tuple[str, ...], include: bool
) -> list:  # type: ignore[type-arg]
    """Include-only or exclude terms on a description or station name, case-insensitive substrings.

    Only where the PACS returned the value: the manual says the filters work "if the
    StudyDescription and/or StationName tags are returned by the remote server"; the station name
    gets a second chance at series level.
    """
    if not terms:
        return list(items)
    kept = []
    for item in items:
        value = getattr(item, attribute)
        if value is None or _matches(value, terms) == include:
            kept.append(item)
    return kept


def prune_studies_by_terms(studies: list[StudyResponse], options: QueryOptions) -> list[StudyResponse]:
    studies = filter_by_terms(studies, "study_description", options.desc_include, include=True)
    studies = filter_by_terms(studies, "study_description", options.desc_exclude, include=False)
    studies = filter_by_terms(studies, "station_name", options.station_include, include=True)
    return filter_by_terms(studies, "station_name", options.station_exclude, include=False)


def build_modalities_from_series(study: StudyResponse) -> None:
    """ModalitiesInStudy not returned: built from the series-level Modality answers."""
    if not study.modalities_in_study:
        study.modalities_in_study = sorted({s.modality for s in study.series})


def drop_studies_not_asked_for(studies: list[StudyResponse], options: QueryOptions) -> list[StudyResponse]:
    """For a PACS that returned everything: keep studies with a modality asked for (an SR-only
    query keeps studies that hold only SR)."""
    wanted = set(options.dicom_modalities)
    return [
        s
        for s in studies
        if wanted & set(s.modalities_in_study) and not (options.sr_only and s.modalities_in_study != ["SR"])
    ]


# --- series level -----------------------------------------------------------------------------------


def prune_series_by_station(studies: list[StudyResponse], options: QueryOptions) -> list[StudyResponse]:
    """The station name filters again, on series answers (a study left without series goes)."""
    if not (options.station_include or options.station_exclude):
        return studies
    kept = []
    for study in studies:
        series = filter_by_terms(study.series, "station_name", options.station_include, include=True)
        study.series = filter_by_terms(series, "station_name", options.station_exclude, include=False)
        if study.series:
            kept.append(study)
    return kept


def check_sr_type(study: StudyResponse, images_of: ImagesOf) -> str:
    """The SR type, read from the SOP Class UID of an image-level answer of each SR series.

    RDSR is preferred over ESR: with an RDSR every other SR series is dropped; else with an ESR
    every non-ESR SR series; else (a radiologist's report...) every SR series. Returns ``RDSR``,
    ``ESR`` or ``no_dose_report``.
    """
    sr_series = [s for s in study.series if s.modality == "SR"]
    found: set[str] = set()
    for series in sr_series:
        if series.images is None:
            series.images = images_of(study, series, False)
        if series.images:
            series.sop_class_in_series = series.images[0].sop_class_uid
            if series.sop_class_in_series:
                found.add(series.sop_class_in_series)
    for kind, uid in (("RDSR", RDSR), ("ESR", ESR)):
        if uid in found:
            study.series = [s for s in study.series if s.modality != "SR" or s.sop_class_in_series == uid]
            return kind
    study.series = [s for s in study.series if s.modality != "SR"]
    return "no_dose_report"


def _keep_dose_reports_or_images(study: StudyResponse, images_of: ImagesOf) -> None:
    """Mammography and radiography: an RDSR makes the images unnecessary; else the images."""
    if "SR" in study.modalities_in_study and check_sr_type(study, images_of) == "RDSR":
        study.series = [s for s in study.series if s.modality == "SR"]
    else:
        study.series = [s for s in study.series if s.modality != "SR"]


def _keep_philips_dose_info(study: StudyResponse, toshiba: bool) -> tuple[bool, bool]:
    """(series descriptions returned, a dose info series found or possibly kept)."""
    if any(s.series_description is not None for s in study.series):
        if any(s.series_description == PHILIPS_DOSE_INFO for s in study.series):
            study.series = [s for s in study.series if s.series_description == PHILIPS_DOSE_INFO]
            return True, True
        return True, False
    if toshiba:
        return False, False
    study.series = [
        s for s in study.series if s.number_of_instances is None or s.number_of_instances <= MAX_DOSE_INFO_IMAGES
    ]
    return False, True


def keep_toshiba_first_images(study: StudyResponse, images_of: ImagesOf) -> None:
    """Toshiba option: the first image of each series (for building an RDSR from old Toshiba CT);
    a secondary capture series (a dose summary) is kept whole."""
    kept = []
    for series in study.series:
        series.images = images_of(study, series, True)
        series.first_image_only = True
        if not series.images:
            continue
        if series.images[0].sop_class_uid != SECONDARY_CAPTURE:
            series.images = series.images[:1]
            series.image_level_move = True
        kept.append(series)
    study.series = kept


@dataclass
class SeriesPruning:
    """What series pruning removed or kept, for the QR log and the final stage message."""

    deleted: dict[str, int] = field(default_factory=lambda: {"RF": 0, "CT": 0, "SR": 0, "other": 0})
    kept_ct: dict[str, int] = field(default_factory=lambda: {"SR": 0, "philips": 0, "toshiba": 0, "maybe_philips": 0})

    def summary(self, options: QueryOptions) -> str:
        parts = []
        if "FL" in options.groups:
            parts.append(
                f"{self.deleted['RF']} RF studies were deleted from query due to no suitable RDSR being found."
            )
        if "CT" in options.groups:
            parts.append(
                f"{self.deleted['CT']} CT studies were deleted from query due to no suitable images or reports "
                f"being found. Of the remaining studies, {self.kept_ct['SR']} have RDSR or ESR, "
                f"{self.kept_ct['philips']} have Philips dose images, {self.kept_ct['toshiba']} have been "
                f"prepared for the Toshiba import option and {self.kept_ct['maybe_philips']} have been prepared "
                "as possibly containing Philips dose images."
            )
        if "SR" in options.groups:
            parts.append(f"{self.deleted['SR']} SR studies were deleted from query due to no suitable SR being found.")
        return " ".join(parts)


def prune_series(study: StudyResponse, options: QueryOptions, images_of: ImagesOf, tally: SeriesPruning) -> bool:
    """The manual's series rules for one study; False when the study is to be dropped.

    The first rule whose modality was asked for and is in the study applies (MG, then DX/CR, then
    RF/XA, then CT, then SR-only), as in OpenREM.
    """
    groups = options.groups
    modalities = set(study.modalities_in_study)
    if "MG" in groups and "MG" in modalities:
        study.modality_type = "MG"
        _keep_dose_reports_or_images(study, images_of)
    elif "DX" in groups and modalities & set(MODALITY_GROUPS["DX"]):
        study.modality_type = "DX"
        _keep_dose_reports_or_images(study, images_of)
    elif "FL" in groups and modalities & set(MODALITY_GROUPS["FL"]):
        study.modality_type = "FL"
        if check_sr_type(study, images_of) == "no_dose_report":
            tally.deleted["RF"] += 1
            return False
        study.series = [s for s in study.series if s.modality == "SR"]
    elif "CT" in groups and "CT" in modalities:
        study.modality_type = "CT"
        if not _prune_ct_series(study, options, images_of, tally):
            tally.deleted["CT"] += 1
            return False
    elif "SR" in groups:
        study.modality_type = "SR"
        if check_sr_type(study, images_of) == "no_dose_report":
            tally.deleted["SR"] += 1
            return False
        study.series = [s for s in study.series if s.modality == "SR"]
    else:
        tally.deleted["other"] += 1
        return False
    return bool(study.series)


def _prune_ct_series(study: StudyResponse, options: QueryOptions, images_of: ImagesOf, tally: SeriesPruning) -> bool:
    """CT: RDSR, then ESR, then Philips 'Dose info', then (option) Toshiba first images, then,
    without series descriptions, the small series that might be dose info."""
    if "SR" in study.modalities_in_study and check_sr_type(study, images_of) in ("RDSR", "ESR"):
        study.series = [s for s in study.series if s.modality == "SR"]
        tally.kept_ct["SR"] += 1
        return True
    descriptions, found = _keep_philips_dose_info(study, options.toshiba)
    if descriptions and found:
        tally.kept_ct["philips"] += 1
        return True
    if not found and options.toshiba:
        keep_toshiba_first_images(study, images_of)
        tally.kept_ct["toshiba"] += 1
        return True
    if not descriptions and found:
        tally.kept_ct["maybe_philips"] += 1
        return True
    return False


# --- duplicates -------------------------------------------------------------------------------------


def remove_processed_objects(
    studies: list[StudyResponse], processed_uids_of: ProcessedUidsOf, images_of: ImagesOf
) -> list[StudyResponse]:
    """Duplicates processing: for a study already in the database, image-level answers whose SOP
    Instance UID was processed before are dropped (SR series: from the SR check's answers; MG, DX
    and CR series: after an image-level query); other series of such a study are dropped. So a
    newer cumulative RDSR of a known study is still retrieved, image by image."""
    kept = []
    for study in studies:
        processed = processed_uids_of(study.study_instance_uid)
        if processed is None:
            kept.append(study)
            continue
        remaining = []
        for series in study.series:
            if series.modality not in ("SR", "MG", "DX", "CR"):
                continue
            if series.images is None or series.modality != "SR":
                series.images = images_of(study, series, False)
            new = [image for image in series.images if image.sop_instance_uid not in processed]
            if len(new) < len(series.images):
                series.image_level_move = True
            series.images = new
            if new:
                remaining.append(series)
        study.series = remaining
        if remaining:
            kept.append(study)
    return kept
