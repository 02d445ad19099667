"""One query, in the manual's order: study queries per modality, study filters, series queries,
series rules, duplicates. The PACS is a :class:`Finder`; the QR log and the progress a user sees
are a :class:`Progress`. Nothing here knows Orthanc or the database.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from orthanc_rem.qr import pruning
from orthanc_rem.qr.options import QueryOptions
from orthanc_rem.qr.queries import image_query, series_query, study_query
from orthanc_rem.qr.responses import ImageResponse, SeriesResponse, StudyResponse


class Finder(Protocol):
    """C-FIND at one level ("Study", "Series" or "Instance"): the answers as keyword mappings."""

    def find(self, level: str, query: Mapping[str, str]) -> list[Mapping[str, Any]]: ...


class Progress(Protocol):
    def stage(self, text: str) -> None:
        """What the query is doing now (shown live on the page and by the command line)."""

    def log(self, line: str) -> None:
        """One line of the QR log (the manual's openrem_qr.log)."""


@dataclass
class QueryResult:
    studies: list[StudyResponse]
    initial_count: int
    matching: pruning.ModalityMatching
    series_pruning: pruning.SeriesPruning
    removed: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def counts_by_type(self) -> dict[str, int]:
        """Studies per type (CT, MG, DX, FL, SR) left to retrieve."""
        return dict(sorted(Counter(s.modality_type or "?" for s in self.studies).items()))

    def object_count(self) -> int:
        return sum(study.object_count() for study in self.studies)


class _Images:
    """Image-level answers, asked for each series at most once per kind."""

    def __init__(self, finder: Finder) -> None:
        self.finder = finder

    def __call__(self, study: StudyResponse, series: SeriesResponse, first_only: bool) -> list[ImageResponse]:
        answers = self.finder.find(
            "Instance", image_query(study.study_instance_uid, series.series_instance_uid, first_only)
        )
        images = [image for image in map(ImageResponse.from_answer, answers) if image is not None]
        return sorted(images, key=lambda i: (i.instance_number is None, i.instance_number or 0))


def run_query(
    finder: Finder,
    options: QueryOptions,
    progress: Progress,
    processed_uids_of: pruning.ProcessedUidsOf,
    use_modality_tag: bool = False,
) -> QueryResult:
    started = time.monotonic()
    options.validate()
    for line in options.describe():
        progress.log(line)
    matching = pruning.ModalityMatching()
    found: list[StudyResponse] = []
    for modality in options.dicom_modalities:
        if not matching.matching:
            break
        progress.stage(f"Currently querying for {modality} studies...")
        progress.log(f"Currently querying for {modality} studies...")
        answers = finder.find("Study", study_query(options, modality, use_modality_tag))
        studies = [s for s in (StudyResponse.from_answer(a, modality) for a in answers) if s is not None]
        progress.log(f"Queried for {modality}, {len(studies)} study level responses")
        matching.assess(modality, studies, use_modality_tag)
        found.extend(studies)
        if not matching.matching:
            progress.log("Remote node does not match on ModalitiesInStudy: one query returned everything")
    result = QueryResult([], len(found), matching, pruning.SeriesPruning())
    studies = pruning.without_repeats(found)
    progress.log(f"{len(found)} study responses returned, {len(studies)} after removing repeats")
    if not studies:
        progress.log(
            "No study returned. Some PACS answer nothing to a wide date range: try a single date with a time range"
        )
    if matching.returned and options.sr_only:
        studies = _step(
            progress,
            result,
            "sr_only",
            studies,
            pruning.keep_sr_only_studies(studies),
            "Removing studies with anything other than SR in",
        )
    if options.desc_include or options.desc_exclude or options.station_include or options.station_exclude:
        progress.stage("Pruning study responses based on inc/exc options")
        studies = _step(
            progress,
            result,
            "inc_exc",
            studies,
            pruning.prune_studies_by_terms(studies, options),
            "Pruning study responses based on inc/exc options",
        )
    progress.stage("Querying at series level to get more details about studies")
    progress.log("Querying at series level to get more details about studies")
    for number, study in enumerate(studies, 1):
        if number % 20 == 0:
            progress.stage(f"Querying at series level: study {number} of {len(studies)}")
        answers = finder.find("Series", series_query(study.study_instance_uid))
        study.series = [s for s in map(SeriesResponse.from_answer, answers) if s is not None]
        pruning.build_modalities_from_series(study)
    if not matching.matching or use_modality_tag:
        progress.stage("Deleting studies we didn't ask for")
        studies = _step(
            progress,
            result,
            "wrong_modality",
            studies,
            pruning.drop_studies_not_asked_for(studies, options),
            "Deleting studies we didn't ask for",
        )
    progress.stage("Deleting series we can't use")
    progress.log("Deleting series we can't use")
    studies = _step(
        progress,
        result,
        "station_series",
        studies,
        pruning.prune_series_by_station(studies, options),
        "Station name filters at series level",
    )
    images = _Images(finder)
    kept = [s for s in studies if pruning.prune_series(s, options, images, result.series_pruning)]
    studies = _step(progress, result, "series_pruning", studies, kept, "Pruning series responses")
    summary = result.series_pruning.summary(options)
    if summary:
        progress.log(summary)
    if options.remove_duplicates:
        progress.stage("Removing any responses that match data we already have in the database")
        studies = _step(
            progress,
            result,
            "duplicates",
            studies,
            pruning.remove_processed_objects(studies, processed_uids_of, images),
            "Removing duplicates of previous objects",
        )
    result.studies = studies
    result.seconds = time.monotonic() - started
    counts = ", ".join(f"{n} {kind}" for kind, n in result.counts_by_type().items()) or "none"
    progress.log(
        f"Query complete. Query took {result.seconds:.1f} seconds and we are left with {len(studies)} "
        f"studies to move ({counts})"
    )
    return result


def _step(
    progress: Progress,
    result: QueryResult,
    name: str,
    before: list[StudyResponse],
    after: list[StudyResponse],
    what: str,
) -> list[StudyResponse]:
    result.removed[name] = len(before) - len(after)
    progress.log(f"{what}: removed {len(before) - len(after)} studies, now have {len(after)} studies")
    return after
