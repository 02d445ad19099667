"""Orthanc's own DICOM client, through its REST API: the only DICOM stack query-retrieve uses.

A node becomes the Orthanc modality ``remqr-<name>`` (``PUT /modalities/…``); C-ECHO, C-FIND
(``/modalities/…/query``, answers from ``/queries/…``) and C-MOVE (``/modalities/…/move``, to
Orthanc's own AE, so retrieved objects enter the normal ingest) are Orthanc's. Orthanc keeps
modalities added over REST in memory only (unless ``DicomModalitiesInDatabase``), so callers
declare the node again before using it. The prefix keeps the worker account, which the plugin
lets use these routes (``worker_access``), away from the modalities an administrator configured.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orthanc_rem.orthanc_client import OrthancClient, OrthancHttpError, OrthancUnavailable

MODALITY_PREFIX = "remqr-"
#: The modality our own store is echoed through (a node name cannot start with "_").
OWN_STORE = "_store"
NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,57}")
#: Seconds a C-MOVE of one series may take (Orthanc waits for every C-STORE sub-operation).
MOVE_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class RemoteNode:
    """What Orthanc needs to reach a node (from ``model.QrNode``)."""

    name: str
    aet: str
    host: str
    port: int
    calling_aet: str | None = None


def modality_name(node_name: str) -> str:
    return MODALITY_PREFIX + node_name


def declare(client: OrthancClient, node: RemoteNode) -> None:
    body: dict[str, Any] = {"AET": node.aet, "Host": node.host, "Port": node.port}
    if node.calling_aet:
        body["LocalAet"] = node.calling_aet  # the calling AE title a PACS may filter on
    client.put_json(f"/modalities/{modality_name(node.name)}", body)


def forget(client: OrthancClient, node_name: str) -> None:
    try:
        client.delete(f"/modalities/{modality_name(node_name)}")
    except OrthancHttpError as exc:
        if exc.status != 404:
            raise


def problem(exc: Exception) -> str:
    """Orthanc's own explanation of a failed DICOM operation ("Details"), else the error."""
    if isinstance(exc, OrthancHttpError):
        text = str(exc)
        match = re.search(r'"Details"\s*:\s*"((?:[^"\\]|\\.)*)"', text)
        if match:
            return match.group(1).replace('\\"', '"')
        return text
    return str(exc)


def echo(client: OrthancClient, node_name: str) -> tuple[bool, str]:
    """C-ECHO: (responding, message)."""
    try:
        client.post_json(f"/modalities/{modality_name(node_name)}/echo", {}, timeout=30)
    except (OrthancHttpError, OrthancUnavailable) as exc:
        return False, problem(exc)
    return True, "responding to DICOM echo"


def own_store(client: OrthancClient) -> RemoteNode:
    """Orthanc's own AE (the retrieve destination), as a node to echo."""
    system = client.get_json("/system")
    return RemoteNode(OWN_STORE, str(system["DicomAet"]), "127.0.0.1", int(system["DicomPort"]))


def own_aet(client: OrthancClient) -> str:
    return str(client.get_json("/system")["DicomAet"])


class OrthancFinder:
    """C-FIND through Orthanc; the query is sent as given (``Normalize: false``), so that the
    study-level Modality key of the Impax workaround is not dropped."""

    def __init__(self, client: OrthancClient, node_name: str) -> None:
        self.client = client
        self.modality = modality_name(node_name)

    def find(self, level: str, query: Mapping[str, str]) -> list[Mapping[str, Any]]:
        created = self.client.post_json(
            f"/modalities/{self.modality}/query",
            {"Level": level, "Query": dict(query), "Normalize": False},
            timeout=MOVE_TIMEOUT_S,
        )
        query_id = created["ID"]
        try:
            answers = self.client.get_json(f"/queries/{query_id}/answers?expand&simplify")
        finally:
            try:
                self.client.delete(f"/queries/{query_id}")
            except (OrthancHttpError, OrthancUnavailable):
                pass  # Orthanc drops old queries itself
        return [a for a in answers if isinstance(a, dict)]


def move(client: OrthancClient, node_name: str, level: str, resources: list[dict[str, str]], target_aet: str) -> None:
    """C-MOVE to ``target_aet``; raises OrthancHttpError (422 with Orthanc's details) on failure."""
    client.post_json(
        f"/modalities/{modality_name(node_name)}/move",
        {"Level": level, "Resources": resources, "TargetAet": target_aet, "Synchronous": True},
        timeout=MOVE_TIMEOUT_S,
    )


def orthanc_id_of(client: OrthancClient, sop_instance_uid: str) -> str | None:
    """The Orthanc ID of an instance Orthanc holds, by SOP Instance UID."""
    for match in client.post_text("/tools/lookup", sop_instance_uid) or []:
        if match.get("Type") == "Instance":
            return str(match["ID"])
    return None
