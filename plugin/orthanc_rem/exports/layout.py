"""What a modality's export is made of: OpenREM's columns and the function that reads them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from orthanc_rem.exports.columns import Column
from orthanc_rem.exports.study_header import StudyDose

ReadBatch = Callable[[Session, Sequence[int]], dict[int, StudyDose]]
#: A query over the selected study ids (``SELECT study.id ...``), for the aggregates a header needs.
StudyIds = Select[Any]


@dataclass(frozen=True)
class Layout:
    modality: str
    #: After the common columns: DLP total (CT), DAP total (DX), per-plane totals (RF), none (MG).
    study_columns: tuple[Column, ...]
    #: "All data" repeats this block per event ("E") or per group of exposures ("G", fluoroscopy).
    block_prefix: str
    block_columns: tuple[Column, ...]
    #: One row per event on the protocol sheets.
    event_columns: tuple[Column, ...]
    #: Fluoroscopy CSVs hold study-level totals only (manual L5635).
    csv_has_blocks: bool
    read: ReadBatch
    #: Acquisition protocols of the selection's events (for the protocol sheets), None included.
    protocols: Callable[[Session, StudyIds], list[str | None]]
    #: The most blocks one study of the selection has (how far "All data" repeats); None when only
    #: reading the studies tells (groups of fluoroscopy exposures), which costs the runner a first pass.
    most_blocks: Callable[[Session, StudyIds], int] | None
    #: Studies read per query round: each round costs some queries and a session (about 20 ms of
    #: CPU), so bigger is faster, while a round's rows are held in memory: CT, radiography and
    #: mammography studies have a few events each (5000 studies of 3 CT events: +45 MB), a
    #: fluoroscopy study can have 400 exposures.
    studies_per_batch: int = 1000
