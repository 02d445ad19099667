"""The worker account may run query-retrieve on its own modalities only (``remqr-*``): declare,
forget, C-ECHO, C-FIND, C-MOVE and read its query answers, never send objects anywhere or touch
the modalities an administrator configured."""

from __future__ import annotations

import pytest

from orthanc_rem.worker_access import worker_may


@pytest.mark.parametrize(
    ("method", "uri"),
    [
        ("PUT", "/modalities/remqr-pacs"),
        ("DELETE", "/modalities/remqr-pacs"),
        ("POST", "/modalities/remqr-pacs/echo"),
        ("POST", "/modalities/remqr-pacs/query"),
        ("POST", "/modalities/remqr-pacs/move"),
        ("POST", "/modalities/remqr-_store/echo"),
        ("GET", "/queries/0f8fad5b-d9cb-469f-a165-70867728950e/answers"),
        ("DELETE", "/queries/0f8fad5b-d9cb-469f-a165-70867728950e"),
        ("GET", "/system"),
        ("POST", "/tools/lookup"),
    ],
)
def test_query_retrieve_routes_are_allowed(method, uri):
    assert worker_may(method, uri)


@pytest.mark.parametrize(
    ("method", "uri"),
    [
        ("PUT", "/modalities/pacs"),  # an administrator's modality
        ("POST", "/modalities/pacs/move"),
        ("POST", "/modalities/remqr-pacs/store"),  # sending our objects out
        ("POST", "/modalities/remqr-pacs/get"),
        ("GET", "/modalities"),
        ("POST", "/queries/0f8fad5b-d9cb-469f-a165-70867728950e/answers/0/retrieve"),
        ("POST", "/tools/find"),
        ("POST", "/tools/execute-script"),
    ],
)
def test_everything_else_stays_refused(method, uri):
    assert not worker_may(method, uri)
