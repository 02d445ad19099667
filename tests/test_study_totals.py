"""A study's stored totals (``study_totals``) are the same whichever path wrote them.

A new study's totals are computed from the report being stored (``study_totals.of_new_report``),
a stored study's from its rows loaded back (``study_totals.refresh``). Both must give what the
pages compute from the rows (``study_document``) for every dose object of the corpus.
"""

from __future__ import annotations

from dataclasses import astuple

import pytest
from sqlalchemy import select

import sr_facts
from conftest import corpus_dir
from orthanc_rem import model, study_document, study_totals
from orthanc_rem.ingest import ingest_object

DOSE_OBJECTS = sorted(
    path.name for path in corpus_dir().glob("*.dcm") if path.name.split("-")[0] in ("CT", "RF", "DX", "MG", "Dual")
)


def stored_and_recomputed(sessions) -> list[tuple[study_totals.Totals, study_totals.Totals]]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        studies = session.scalars(select(model.Study).options(*study_document.summary_loaders())).all()
        assert studies
        pairs = []
        for study in studies:
            row = session.get(model.StudyTotals, study.id)
            assert row is not None, f"study {study.id} has no totals"
            stored = study_totals.Totals(row.total_dlp_mgycm, row.total_dap_gym2, row.total_dose_rp_gy)
            pairs.append((stored, study_totals.of_study(study)))
        return pairs


def test_every_corpus_study_has_the_totals_its_rows_give(corpus, sessions):
    """After each object: its new study (new-study path) or the study it joined (stored-study
    path: cumulative and continued reports, images of one study) holds what its rows give."""
    for name in DOSE_OBJECTS:
        ingest_object(sessions, corpus(name), source=f"file:{name}")
        for stored, recomputed in stored_and_recomputed(sessions):
            # The same sums, perhaps added in another order.
            assert astuple(stored) == pytest.approx(astuple(recomputed)), name


def test_a_new_ct_study_total_is_the_reports_dlp_total(corpus, sessions):
    path = corpus("CT-RDSR-Siemens_Flash-TAP-SS.dcm")
    ingest_object(sessions, path, source="file:tap")
    ((stored, _recomputed),) = stored_and_recomputed(sessions)
    assert stored.total_dlp_mgycm == pytest.approx(sr_facts.total_dlp(sr_facts.read(path)))
    assert stored.total_dap_gym2 is None and stored.total_dose_rp_gy is None
