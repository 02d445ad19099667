"""A pynetdicom Query/Retrieve SCP (C-ECHO, Study Root C-FIND) that answers from a ``FakePacs``,
misbehaviours included, so that Orthanc's DICOM client meets them over a real association."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind, Verification

from orthanc_harness import free_ports
from qr_fake_pacs import FakePacs

LEVELS = {"STUDY": "Study", "SERIES": "Series", "IMAGE": "Instance"}


def _on_find(event: Any, pacs: FakePacs) -> Iterator[tuple[int, Dataset | None]]:
    identifier = event.identifier
    level = LEVELS.get(str(identifier.get("QueryRetrieveLevel", "")).upper())
    if level is None:
        yield 0xC000, None  # unable to process
        return
    query = {element.keyword: _text(element.value) for element in identifier if element.keyword}
    for answer in pacs.find(level, query):
        ds = Dataset()
        ds.QueryRetrieveLevel = identifier.QueryRetrieveLevel
        for keyword, value in answer.items():
            setattr(ds, keyword, value)
        yield 0xFF00, ds


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


@contextlib.contextmanager
def running_scp(pacs: FakePacs, aet: str = "MISBEHAVE") -> Iterator[int]:
    """Serve ``pacs`` on a free loopback port; yields the port."""
    ae = AE(ae_title=aet)
    ae.add_supported_context(Verification)
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    (port,) = free_ports(1)
    server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_FIND, _on_find, [pacs])])
    try:
        yield port
    finally:
        server.shutdown()
