"""A PACS's C-FIND behaviour in memory, with the misbehaviours real PACSs show.

Used directly as the ``Finder`` in the pruning tests and served over DICOM by the pynetdicom
Query/Retrieve SCP (``qr_scp.py``), so both see the same archive and the same quirks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RDSR = "1.2.840.10008.5.1.4.1.1.88.67"  # X-Ray Radiation Dose SR Storage (PS3.4 B.5)
ESR = "1.2.840.10008.5.1.4.1.1.88.22"  # Enhanced SR Storage
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"  # a radiologist's report
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
DX_IMAGE = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
CR_IMAGE = "1.2.840.10008.5.1.4.1.1.1"
MG_IMAGE = "1.2.840.10008.5.1.4.1.1.1.2"
RF_IMAGE = "1.2.840.10008.5.1.4.1.1.12.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"


@dataclass(frozen=True)
class PacsObject:
    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class: str
    modality: str
    instance_number: int = 1
    study_description: str | None = None
    series_description: str | None = None
    station_name: str | None = None
    study_date: str = "20100405"


@dataclass
class Quirks:
    """What a real PACS does wrong (manual, "Query filtering logic" and the QR node options)."""

    ignores_modalities_in_study: bool = False
    #: Answers without ModalitiesInStudy (still matching on it unless it ignores it too).
    omits_modalities_in_study: bool = False
    #: No StationName, StudyDescription or SeriesDescription in answers.
    omits_descriptions: bool = False
    #: Agfa Impax 6.6: answers only with the non-standard study-level Modality key, and only to a
    #: query that carries it.
    modality_key_only: bool = False
    #: Zero answers to a StudyDate range longer than this many days.
    max_days: int | None = None


@dataclass
class FakePacs:
    objects: list[PacsObject]
    quirks: Quirks = field(default_factory=Quirks)
    queries: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def find(self, level: str, query: Mapping[str, str]) -> list[Mapping[str, Any]]:
        self.queries.append((level, dict(query)))
        if level == "Study":
            return self._studies(query)
        if level == "Series":
            return self._series(query)
        return self._images(query)

    def study_queries(self) -> list[str]:
        return [q.get("ModalitiesInStudy", "") for level, q in self.queries if level == "Study"]

    def _studies(self, query: Mapping[str, str]) -> list[Mapping[str, Any]]:
        if self.quirks.modality_key_only and "Modality" not in query:
            return []
        if not _date_matches(query.get("StudyDate", ""), None, self.quirks.max_days):
            return []
        answers = []
        for study_uid in dict.fromkeys(o.study_uid for o in self.objects):
            objects = [o for o in self.objects if o.study_uid == study_uid]
            first = objects[0]
            modalities = sorted({o.modality for o in objects})
            wanted = query.get("ModalitiesInStudy", "")
            if wanted and not self.quirks.ignores_modalities_in_study and wanted not in modalities:
                continue
            if not _date_matches(query.get("StudyDate", ""), first.study_date, None):
                continue
            answer: dict[str, Any] = {"StudyInstanceUID": study_uid, "StudyDate": first.study_date}
            if not self.quirks.omits_descriptions:
                answer["StudyDescription"] = first.study_description or ""
                answer["StationName"] = first.station_name or ""
            if self.quirks.modality_key_only:
                answer["Modality"] = "\\".join(modalities)
            elif not self.quirks.omits_modalities_in_study:
                answer["ModalitiesInStudy"] = "\\".join(modalities)
            answers.append(answer)
        return answers

    def _series(self, query: Mapping[str, str]) -> list[Mapping[str, Any]]:
        answers = []
        objects = [o for o in self.objects if o.study_uid == query["StudyInstanceUID"]]
        for series_uid in dict.fromkeys(o.series_uid for o in objects):
            members = [o for o in objects if o.series_uid == series_uid]
            answer: dict[str, Any] = {
                "StudyInstanceUID": members[0].study_uid,
                "SeriesInstanceUID": series_uid,
                "Modality": members[0].modality,
                "NumberOfSeriesRelatedInstances": str(len(members)),
            }
            if not self.quirks.omits_descriptions:
                answer["SeriesDescription"] = members[0].series_description or ""
                answer["StationName"] = members[0].station_name or ""
            answers.append(answer)
        return answers

    def _images(self, query: Mapping[str, str]) -> list[Mapping[str, Any]]:
        number = query.get("InstanceNumber", "")
        return [
            {
                "SOPInstanceUID": o.sop_uid,
                "SOPClassUID": o.sop_class,
                "InstanceNumber": str(o.instance_number),
                "SeriesInstanceUID": o.series_uid,
            }
            for o in self.objects
            if o.study_uid == query["StudyInstanceUID"]
            and o.series_uid == query["SeriesInstanceUID"]
            and (not number or str(o.instance_number) == number)
        ]


def _date_matches(wanted: str, date: str | None, max_days: int | None) -> bool:
    """DICOM date range matching (PS3.4 C.2.2.2.5): ``D``, ``A-B``, ``A-``, ``-B`` or empty."""
    if not wanted:
        return max_days is None
    start, separator, end = wanted.partition("-")
    if not separator:
        end = start
    if max_days is not None:
        if not start or not end:
            return False
        first = dt.datetime.strptime(start, "%Y%m%d")
        last = dt.datetime.strptime(end, "%Y%m%d")
        return (last - first).days + 1 <= max_days
    if date is None:
        return True
    return (not start or date >= start) and (not end or date <= end)
