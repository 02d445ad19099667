"""The manual's query filtering logic, rule by rule, against an in-memory PACS (no network).

SOP Class UIDs are the standard's (PS3.4 Annex B); studies are the manual's examples: DX with
"imported" in the description, MG and DX with an RDSR or a report, fluoroscopy with images and
a dose SR, CT from Siemens (RDSR), GE (ESR), Philips ('Dose Info') and old Toshiba scanners.
"""

from __future__ import annotations

import datetime as dt

import pytest

from orthanc_rem.qr.options import InvalidQuery, QueryOptions, parse_hhmm, split_terms
from orthanc_rem.qr.query_run import run_query
from qr_fake_pacs import (
    BASIC_TEXT_SR,
    CR_IMAGE,
    CT_IMAGE,
    DX_IMAGE,
    ESR,
    MG_IMAGE,
    MR_IMAGE,
    RDSR,
    RF_IMAGE,
    SECONDARY_CAPTURE,
    FakePacs,
    PacsObject,
    Quirks,
)


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.stages: list[str] = []

    def stage(self, text: str) -> None:
        self.stages.append(text)

    def log(self, line: str) -> None:
        self.lines.append(line)


def series(study: str, name: str, modality: str, sop_class: str, count: int = 1, **kwargs) -> list[PacsObject]:  # type: ignore[no-untyped-def]
    return [
        PacsObject(study, f"{study}.{name}", f"{study}.{name}.{n}", sop_class, modality, instance_number=n, **kwargs)
        for n in range(1, count + 1)
    ]


def query(pacs: FakePacs, processed: dict[str, set[str]] | None = None, use_modality_tag: bool = False, **options):  # type: ignore[no-untyped-def]
    log = Log()
    result = run_query(pacs, QueryOptions(**options), log, (processed or {}).get, use_modality_tag=use_modality_tag)
    return result, log


def kept(result) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """Study UID -> the series (or, for image-level moves, the images) a retrieve will ask for."""
    out = {}
    for study in result.studies:
        names = []
        for s in study.series:
            if s.image_level_move:
                names.extend(i.sop_instance_uid for i in s.images)
            else:
                names.append(s.series_instance_uid)
        out[study.study_instance_uid] = names
    return out


# --- the command line's validation rules --------------------------------------------------------------


def test_sr_only_cannot_be_combined_with_a_modality():
    with pytest.raises(InvalidQuery, match="SR-only"):
        QueryOptions(modalities=("CT",), sr_only=True).validate()


def test_a_modality_or_sr_only_is_needed():
    with pytest.raises(InvalidQuery, match="at least one modality"):
        QueryOptions().validate()


def test_times_need_a_single_date_and_a_single_date_excludes_a_range():
    with pytest.raises(InvalidQuery, match="single date"):
        QueryOptions(modalities=("CT",), date_from=dt.date(2018, 3, 19), time_from=dt.time(12)).validate()
    with pytest.raises(InvalidQuery, match="single date cannot"):
        QueryOptions(modalities=("CT",), single_date=dt.date(2018, 3, 19), date_from=dt.date(2018, 3, 19)).validate()


def test_time_window_on_a_single_date_as_the_manual_describes():
    """-sd 2018-03-19 -tf 1200 -tt 1500; -tf alone until 23.59; -tt alone from 00.00."""
    day = dt.date(2018, 3, 19)
    both = QueryOptions(
        modalities=("CT",), single_date=day, time_from=parse_hhmm("1200"), time_until=parse_hhmm("1500")
    )
    assert (both.study_date(), both.study_time()) == ("20180319", "1200-1500")
    assert QueryOptions(modalities=("CT",), single_date=day, time_from=dt.time(12)).study_time() == "1200-2359"
    assert QueryOptions(modalities=("CT",), single_date=day, time_until=dt.time(15)).study_time() == "0000-1500"
    assert QueryOptions(modalities=("CT",), single_date=day).study_time() == ""
    assert QueryOptions(modalities=("DX",), date_from=day, date_until=day).study_date() == "20180319-20180319"
    assert QueryOptions(modalities=("DX",), date_from=day).study_date() == "20180319-"


def test_terms_are_comma_separated_and_lower_case():
    assert split_terms("Imported, PHYSICS ,") == ("imported", "physics")


# --- study level ----------------------------------------------------------------------------------------


def test_each_modality_is_queried_in_turn_dx_with_cr_and_fluoroscopy_with_rf_and_xa():
    pacs = FakePacs(series("1", "1", "DX", DX_IMAGE) + series("2", "1", "CR", CR_IMAGE))
    result, _ = query(pacs, modalities=("DX", "FL"))
    assert pacs.study_queries() == ["RF", "XA", "DX", "CR"]
    assert set(kept(result)) == {"1", "2"}


def test_a_pacs_that_ignores_modalities_in_study_is_queried_once_and_filtered_afterwards():
    objects = series("1", "1", "CT", CT_IMAGE, series_description="dose info") + series("2", "1", "MR", MR_IMAGE)
    objects += series("3", "1", "DX", DX_IMAGE)
    pacs = FakePacs(objects, Quirks(ignores_modalities_in_study=True))
    result, log = query(pacs, modalities=("CT", "DX"))
    assert pacs.study_queries() == ["CT"]  # the MR answer to the CT query shows it did not match
    assert set(kept(result)) == {"1", "3"}
    assert "Remote node does not match on ModalitiesInStudy" in "\n".join(log.lines)


def test_modalities_in_study_is_built_from_the_series_when_missing():
    """Without ModalitiesInStudy the PACS is assumed to return everything; the series tell."""
    objects = series("1", "1", "CT", CT_IMAGE, 100, series_description="abdomen") + series("1", "2", "SR", RDSR)
    objects += series("2", "1", "MR", MR_IMAGE)
    pacs = FakePacs(objects, Quirks(omits_modalities_in_study=True))
    result, _ = query(pacs, modalities=("CT",))
    assert result.studies[0].modalities_in_study == ["CT", "SR"]
    assert kept(result) == {"1": ["1.2"]}


def test_impax_answers_only_to_the_modality_key_and_studies_are_filtered_after_the_series():
    objects = series("1", "1", "MG", MG_IMAGE, 4) + series("2", "1", "CT", CT_IMAGE, 40, series_description="x")
    pacs = FakePacs(objects, Quirks(modality_key_only=True, ignores_modalities_in_study=True))
    assert query(pacs, modalities=("MG",))[0].studies == []  # without the workaround: nothing
    result, _ = query(pacs, use_modality_tag=True, modalities=("MG",))
    assert kept(result) == {"1": ["1.1"]}


def test_study_description_exclude_is_case_insensitive_manual_example():
    """openrem_qr.py 2 1 -dx -f 2010-04-05 -t 2010-04-06 -e "imported"."""
    objects = series("1", "1", "DX", DX_IMAGE, study_description="Chest IMPORTED")
    objects += series("2", "1", "DX", DX_IMAGE, study_description="Chest PA")
    pacs = FakePacs(objects)
    day = dt.date(2010, 4, 5)
    result, _ = query(
        pacs, modalities=("DX",), date_from=day, date_until=day + dt.timedelta(1), desc_exclude=("imported",)
    )
    assert set(kept(result)) == {"2"}
    result, _ = query(pacs, modalities=("DX",), desc_include=("chest pa",))
    assert set(kept(result)) == {"2"}


def test_station_filters_apply_at_study_level_and_again_at_series_level():
    objects = series("1", "1", "DX", DX_IMAGE, station_name="CR85 Main") + series(
        "2", "1", "DX", DX_IMAGE, station_name="Room 1"
    )
    result, _ = query(FakePacs(objects), modalities=("DX",), station_exclude=("cr85",))
    assert set(kept(result)) == {"2"}
    result, _ = query(FakePacs(objects), modalities=("DX",), station_include=("room",))
    assert set(kept(result)) == {"2"}


def test_filters_need_the_value_returned():
    """A PACS that returns no description or station name: the filters cannot remove anything."""
    objects = series("1", "1", "DX", DX_IMAGE, study_description="imported", station_name="CR85 Main")
    result, _ = query(
        FakePacs(objects, Quirks(omits_descriptions=True)),
        modalities=("DX",),
        desc_exclude=("imported",),
        station_exclude=("cr85",),
    )
    assert set(kept(result)) == {"1"}


def test_wide_date_range_answered_with_nothing_is_reported():
    pacs = FakePacs(series("1", "1", "DX", DX_IMAGE), Quirks(max_days=1))
    result, log = query(pacs, modalities=("DX",), date_from=dt.date(2010, 1, 1), date_until=dt.date(2010, 12, 31))
    assert result.studies == [] and "single date with a time range" in "\n".join(log.lines)
    result, _ = query(pacs, modalities=("DX",), single_date=dt.date(2010, 4, 5))
    assert set(kept(result)) == {"1"}


# --- series rules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("modality", "image_class", "choice"), [("MG", MG_IMAGE, "MG"), ("DX", DX_IMAGE, "DX"), ("CR", CR_IMAGE, "DX")]
)
def test_mammography_and_radiography_prefer_the_rdsr_over_the_images(modality, image_class, choice):
    with_rdsr = (
        series("1", "1", modality, image_class, 4)
        + series("1", "2", "SR", RDSR)
        + series("1", "3", "SR", BASIC_TEXT_SR)
    )
    with_report = series("2", "1", modality, image_class, 4) + series("2", "2", "SR", BASIC_TEXT_SR)
    result, _ = query(FakePacs(with_rdsr + with_report), modalities=(choice,))
    assert kept(result) == {"1": ["1.2"], "2": ["2.1"]}
    assert {s.modality_type for s in result.studies} == {choice}


def test_fluoroscopy_keeps_only_dose_reports():
    rdsr = series("1", "1", "RF", RF_IMAGE, 30) + series("1", "2", "SR", RDSR) + series("1", "3", "SR", BASIC_TEXT_SR)
    esr = series("2", "1", "XA", RF_IMAGE, 30) + series("2", "2", "SR", ESR)
    images_only = series("3", "1", "RF", RF_IMAGE, 30)
    result, _ = query(FakePacs(rdsr + esr + images_only), modalities=("FL",))
    assert kept(result) == {"1": ["1.2"], "2": ["2.2"]}
    assert result.series_pruning.deleted["RF"] == 1


def test_ct_rdsr_is_preferred_to_esr_and_images():
    objects = series("1", "1", "CT", CT_IMAGE, 200) + series("1", "2", "SR", ESR) + series("1", "3", "SR", RDSR)
    objects += series("2", "1", "CT", CT_IMAGE, 200) + series("2", "2", "SR", ESR)  # GE
    result, _ = query(FakePacs(objects), modalities=("CT",))
    assert kept(result) == {"1": ["1.3"], "2": ["2.2"]}


def test_ct_philips_dose_info_series_is_kept_alone():
    objects = series("1", "1", "CT", CT_IMAGE, 200, series_description="Abdomen 5mm")
    objects += series("1", "2", "CT", SECONDARY_CAPTURE, 1, series_description="Dose Info")
    objects += series("2", "1", "CT", CT_IMAGE, 200, series_description="Head")  # nothing usable
    result, _ = query(FakePacs(objects), modalities=("CT",))
    assert kept(result) == {"1": ["1.2"]}
    assert result.series_pruning.deleted["CT"] == 1


def test_ct_toshiba_option_takes_the_first_image_of_each_series_and_whole_secondary_captures():
    objects = series("1", "1", "CT", CT_IMAGE, 200, series_description="Chest") + series(
        "1", "2", "CT", SECONDARY_CAPTURE, 2, series_description="Dose summary"
    )
    result, _ = query(FakePacs(objects), modalities=("CT",), toshiba=True)
    assert kept(result) == {"1": ["1.1.1", "1.2"]}
    assert result.studies[0].series[0].image_level_move and not result.studies[0].series[1].image_level_move


def test_ct_without_series_descriptions_keeps_series_of_five_images_or_fewer():
    objects = series("1", "1", "CT", CT_IMAGE, 6) + series("1", "2", "CT", SECONDARY_CAPTURE, 5)
    result, _ = query(FakePacs(objects, Quirks(omits_descriptions=True)), modalities=("CT",))
    assert kept(result) == {"1": ["1.2"]}
    assert result.series_pruning.kept_ct["maybe_philips"] == 1


def test_ct_without_series_descriptions_and_toshiba_option_queries_first_images():
    objects = series("1", "1", "CT", CT_IMAGE, 6) + series("1", "2", "CT", SECONDARY_CAPTURE, 5)
    result, _ = query(FakePacs(objects, Quirks(omits_descriptions=True)), modalities=("CT",), toshiba=True)
    assert kept(result) == {"1": ["1.1.1", "1.2"]}


def test_sr_only_keeps_studies_of_dose_reports_only():
    objects = series("1", "1", "SR", RDSR) + series("2", "1", "SR", BASIC_TEXT_SR)
    objects += series("3", "1", "CT", CT_IMAGE, 5) + series("3", "2", "SR", RDSR)  # images too: found by -ct
    objects += series("4", "1", "SR", ESR) + series("4", "2", "SR", BASIC_TEXT_SR)
    result, _ = query(FakePacs(objects), sr_only=True)
    assert kept(result) == {"1": ["1.1"], "4": ["4.1"]}


def test_sr_only_on_a_pacs_that_ignores_modalities_in_study():
    objects = series("1", "1", "SR", RDSR) + series("3", "1", "CT", CT_IMAGE, 5) + series("3", "2", "SR", RDSR)
    result, _ = query(
        FakePacs(objects, Quirks(ignores_modalities_in_study=True, omits_modalities_in_study=True)), sr_only=True
    )
    assert kept(result) == {"1": ["1.1"]}


# --- duplicates -----------------------------------------------------------------------------------------


def test_objects_processed_before_are_not_retrieved_again_but_a_newer_cumulative_rdsr_is():
    objects = series("1", "1", "CT", CT_IMAGE, 100, series_description="chest") + series("1", "2", "SR", RDSR, 2)
    objects += series("2", "1", "DX", DX_IMAGE, 2)
    processed = {"1": {"1.2.1"}, "2": {"2.1.1", "2.1.2"}}
    result, _ = query(FakePacs(objects), processed, modalities=("CT", "DX"))
    assert kept(result) == {"1": ["1.2.2"]}
    assert result.studies[0].series[0].image_level_move


def test_dx_images_not_processed_yet_are_retrieved_image_by_image():
    objects = series("2", "1", "DX", DX_IMAGE, 3)
    result, _ = query(FakePacs(objects), {"2": {"2.1.1"}}, modalities=("DX",))
    assert kept(result) == {"2": ["2.1.2", "2.1.3"]}


def test_retrieve_duplicates_keeps_everything():
    objects = series("1", "1", "SR", RDSR, 1) + series("1", "2", "CT", CT_IMAGE, 10, series_description="x")
    result, _ = query(FakePacs(objects), {"1": {"1.1.1"}}, modalities=("CT",), remove_duplicates=False)
    assert kept(result) == {"1": ["1.1"]}


def test_counts_per_type():
    objects = series("1", "1", "CT", CT_IMAGE, 5, series_description="dose info") + series("2", "1", "DX", DX_IMAGE)
    objects += series("3", "1", "DX", DX_IMAGE)
    result, log = query(FakePacs(objects), modalities=("CT", "DX"))
    assert result.counts_by_type() == {"CT": 1, "DX": 2}
    assert "left with 3 studies to move (1 CT, 2 DX)" in log.lines[-1]
