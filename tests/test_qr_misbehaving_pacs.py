"""Orthanc's DICOM client against a PACS that misbehaves as real ones do (a pynetdicom SCP): the
manual's logic, run by the worker code through Orthanc's REST API, copes with each quirk."""

from __future__ import annotations

import datetime as dt

import pytest

from orthanc_harness import running_orthanc
from orthanc_rem.orthanc_client import OrthancClient
from orthanc_rem.qr import orthanc_dicom
from orthanc_rem.qr.options import QueryOptions
from orthanc_rem.qr.query_run import run_query
from qr_fake_pacs import CT_IMAGE, DX_IMAGE, MR_IMAGE, RDSR, SECONDARY_CAPTURE, FakePacs, PacsObject, Quirks
from qr_scp import running_scp

pytestmark = pytest.mark.orthanc


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def stage(self, text: str) -> None:
        pass

    def log(self, line: str) -> None:
        self.lines.append(line)


def series(study: str, name: str, modality: str, sop_class: str, count: int = 1, **kwargs) -> list[PacsObject]:  # type: ignore[no-untyped-def]
    return [
        PacsObject(
            f"1.2.826.0.1.{study}",
            f"1.2.826.0.1.{study}.{name}",
            f"1.2.826.0.1.{study}.{name}.{n}",
            sop_class,
            modality,
            instance_number=n,
            **kwargs,
        )
        for n in range(1, count + 1)
    ]


ARCHIVE = (
    series("1", "1", "CT", CT_IMAGE, 40, series_description="Thorax")
    + series("1", "2", "SR", RDSR)
    + series("2", "1", "MR", MR_IMAGE, 20, series_description="T1")
    + series("3", "1", "DX", DX_IMAGE, 2, study_description="Chest IMPORTED", station_name="CR85 Main")
    + series("4", "1", "CT", CT_IMAGE, 30)
    + series("4", "2", "CT", SECONDARY_CAPTURE, 2)
)


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):  # type: ignore[no-untyped-def]
    with running_orthanc(tmp_path_factory.mktemp("orthanc"), aet="REMTEST") as process:
        yield OrthancClient(process.url())


def query(orthanc: OrthancClient, pacs: FakePacs, use_modality_tag: bool = False, **options):  # type: ignore[no-untyped-def]
    log = Log()
    with running_scp(pacs) as port:
        orthanc_dicom.declare(orthanc, orthanc_dicom.RemoteNode("misbehaving", "MISBEHAVE", "127.0.0.1", port))
        assert orthanc_dicom.echo(orthanc, "misbehaving") == (True, "responding to DICOM echo")
        result = run_query(
            orthanc_dicom.OrthancFinder(orthanc, "misbehaving"),
            QueryOptions(**options),
            log,
            lambda _uid: None,
            use_modality_tag=use_modality_tag,
        )
    return result, log


def kept(result) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    return {
        s.study_instance_uid.rsplit(".", 1)[1]: sorted(x.series_instance_uid.rsplit(".", 1)[1] for x in s.series)
        for s in result.studies
    }


def test_a_pacs_that_ignores_modalities_in_study_and_returns_everything(orthanc):
    pacs = FakePacs(ARCHIVE, Quirks(ignores_modalities_in_study=True))
    result, log = query(orthanc, pacs, modalities=("CT", "DX"))
    assert pacs.study_queries() == ["CT"]  # the MR study in the answer to CT: not queried again
    assert kept(result) == {"1": ["2"], "3": ["1"], "4": ["2"]}
    assert any("does not match on ModalitiesInStudy" in line for line in log.lines)


def test_a_pacs_that_omits_station_name_and_descriptions(orthanc):
    quirks = Quirks(omits_descriptions=True, omits_modalities_in_study=True, ignores_modalities_in_study=True)
    pacs = FakePacs(ARCHIVE, quirks)
    result, _ = query(orthanc, pacs, modalities=("CT", "DX"), desc_exclude=("imported",), station_exclude=("cr85",))
    # no description to exclude on: the DX study stays; the CT study without RDSR keeps its small series
    assert kept(result) == {"1": ["2"], "3": ["1"], "4": ["2"]}
    assert result.series_pruning.kept_ct["maybe_philips"] == 1


def test_impax_answers_only_with_the_modality_key(orthanc):
    pacs = FakePacs(ARCHIVE, Quirks(modality_key_only=True, ignores_modalities_in_study=True))
    nothing, _ = query(orthanc, pacs, modalities=("DX",))
    assert nothing.studies == []
    before = len(pacs.queries)
    result, _ = query(orthanc, pacs, use_modality_tag=True, modalities=("DX",))
    assert kept(result) == {"3": ["1"]}
    # Orthanc sent the non-standard key as given (Normalize false), for DX and then CR
    assert [q.get("Modality") for level, q in pacs.queries[before:] if level == "Study"] == ["", ""]


def test_a_pacs_that_answers_nothing_to_a_wide_date_range(orthanc):
    pacs = FakePacs(ARCHIVE, Quirks(max_days=1))
    wide, log = query(
        orthanc, pacs, modalities=("DX",), date_from=dt.date(2010, 1, 1), date_until=dt.date(2010, 12, 31)
    )
    assert wide.studies == [] and any("single date with a time range" in line for line in log.lines)
    day, _ = query(orthanc, pacs, modalities=("DX",), single_date=dt.date(2010, 4, 5))
    assert kept(day) == {"3": ["1"]}
