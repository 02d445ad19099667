"""C-FIND answers at study, series and image level, as the pruning rules see them.

An answer is read from a plain mapping of DICOM keywords to values (Orthanc's simplified JSON):
absent and empty values are both "not returned" (None), because a PACS that does not support an
optional key answers either way. Responses are mutable on purpose: the manual's logic deletes
series and image responses step by step, exactly as OpenREM deletes its response rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RDSR = "1.2.840.10008.5.1.4.1.1.88.67"
#: Enhanced SR: GE CT dose reports (and, the manual says, future fluoroscopy ones).
ESR = "1.2.840.10008.5.1.4.1.1.88.22"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def text_value(answer: Mapping[str, Any], keyword: str) -> str | None:
    """One value as text; lists (multi-valued or sequence answers) are joined with backslashes."""
    value = answer.get(keyword)
    if isinstance(value, list):
        value = "\\".join(str(v) for v in value if v is not None)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def multi_value(answer: Mapping[str, Any], keyword: str) -> list[str]:
    """ModalitiesInStudy and the like: backslash-separated per the standard, comma-separated by
    some PACS (OpenREM splits on commas too)."""
    text = text_value(answer, keyword)
    if text is None:
        return []
    return [part.strip() for part in text.replace(",", "\\").split("\\") if part.strip()]


def int_value(answer: Mapping[str, Any], keyword: str) -> int | None:
    text = text_value(answer, keyword)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


@dataclass
class ImageResponse:
    sop_instance_uid: str
    sop_class_uid: str | None = None
    instance_number: int | None = None

    @classmethod
    def from_answer(cls, answer: Mapping[str, Any]) -> ImageResponse | None:
        uid = text_value(answer, "SOPInstanceUID")
        if uid is None:
            return None
        return cls(uid, text_value(answer, "SOPClassUID"), int_value(answer, "InstanceNumber"))


@dataclass
class SeriesResponse:
    series_instance_uid: str
    modality: str
    #: Lower case and stripped, as OpenREM stores it (the 'dose info' match is case-insensitive).
    series_description: str | None = None
    series_number: int | None = None
    number_of_instances: int | None = None
    station_name: str | None = None
    #: Image-level answers; None until the series has been queried at image level.
    images: list[ImageResponse] | None = None
    #: The SOP class an image-level query found for an SR series (RDSR, ESR or another SR).
    sop_class_in_series: str | None = None
    #: Retrieve image by image (images dropped as duplicates, Toshiba's first image only).
    image_level_move: bool = False
    #: ``images`` holds only the answer for InstanceNumber 1 (Toshiba option), not the whole series.
    first_image_only: bool = False

    @classmethod
    def from_answer(cls, answer: Mapping[str, Any]) -> SeriesResponse | None:
        uid = text_value(answer, "SeriesInstanceUID")
        if uid is None:
            return None
        description = text_value(answer, "SeriesDescription")
        return cls(
            series_instance_uid=uid,
            # A series answer without modality is illegal; OpenREM files it as OT (not wanted).
            modality=(text_value(answer, "Modality") or "OT").upper(),
            series_description=description.lower() if description else None,
            series_number=int_value(answer, "SeriesNumber"),
            number_of_instances=int_value(answer, "NumberOfSeriesRelatedInstances"),
            station_name=text_value(answer, "StationName"),
        )


@dataclass
class StudyResponse:
    study_instance_uid: str
    study_description: str | None = None
    station_name: str | None = None
    study_date: str | None = None
    accession_number: str | None = None
    #: As returned at study level; built from the series when the PACS did not return it.
    modalities_in_study: list[str] = field(default_factory=list)
    #: Which study-level query found it (the modality asked for).
    queried_for: str | None = None
    series: list[SeriesResponse] = field(default_factory=list)
    #: The manual's choice this study is retrieved as: CT, MG, DX, FL or SR (set by series pruning).
    modality_type: str | None = None

    @classmethod
    def from_answer(cls, answer: Mapping[str, Any], queried_for: str | None = None) -> StudyResponse | None:
        uid = text_value(answer, "StudyInstanceUID")
        if uid is None:
            return None
        return cls(
            study_instance_uid=uid,
            study_description=text_value(answer, "StudyDescription"),
            station_name=text_value(answer, "StationName"),
            study_date=text_value(answer, "StudyDate"),
            accession_number=text_value(answer, "AccessionNumber"),
            modalities_in_study=[m.upper() for m in multi_value(answer, "ModalitiesInStudy")],
            queried_for=queried_for,
        )

    def object_count(self) -> int:
        """Objects a retrieve will ask for (image responses where known, else the series' count)."""
        total = 0
        for series in self.series:
            if series.image_level_move and series.images is not None:
                total += len(series.images)
            else:
                total += series.number_of_instances or (len(series.images) if series.images else 0)
        return total
