"""``orthanc-rem qr-node`` and ``orthanc-rem qr``: remote nodes and queries from the command line,
so that a site can script them (the manual's ``openrem_qr.py``, with node names for IDs).

Node commands change the database and tell Orthanc at once (as the service's admin); the query
itself runs in the service's workers, and the command follows it in the database: its QR log,
the studies per type, the retrieve, and with ``--wait`` the extraction of every retrieved object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from orthanc_rem import job_liveness, model
from orthanc_rem.cli import Service, open_database
from orthanc_rem.config import Settings
from orthanc_rem.qr import orthanc_dicom, store
from orthanc_rem.qr.options import CHOICES, InvalidQuery, QueryOptions, parse_date, parse_hhmm, split_terms

POLL_S = 0.5
#: Seconds a query waits in the queue before the command says that no worker seems to run.
NO_WORKER_HINT_S = 15.0


def register(command: Callable[[str, Callable[[argparse.Namespace, Service], int], str], Any]) -> None:
    """Add ``qr-node`` and ``qr`` to the ``orthanc-rem`` parser (``command`` is cli.py's helper)."""
    nodes = command("qr-node", command_qr_node, "add, edit, list, echo or remove remote query-retrieve nodes")
    actions = nodes.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, summary in (("add", "add a node"), ("edit", "change a node")):
        sub = actions.add_parser(name, help=summary)
        sub.add_argument("name", metavar="NAME")
        required = name == "add"
        sub.add_argument("--aet", required=required, help="AE title of the remote node")
        sub.add_argument("--host", required=required, help="host name or IP address of the remote node")
        sub.add_argument("--port", type=int, required=required, help="DICOM port of the remote node")
        sub.add_argument("--calling-aet", help="our AE title towards this node (default: Orthanc's own)")
        sub.add_argument(
            "--use-modality-in-study-query",
            action=argparse.BooleanOptionalAction,
            default=None if name == "edit" else False,
            help="send the non-standard Modality key at study level (Impax 6.6; some PACS then answer nothing)",
        )
        _orthanc_options(sub)
    listing = actions.add_parser("list", help="list the nodes and their last C-ECHO")
    _orthanc_options(listing)
    for name, summary in (("echo", "C-ECHO a node through Orthanc"), ("remove", "remove a node")):
        sub = actions.add_parser(name, help=summary)
        sub.add_argument("name", metavar="NAME")
        _orthanc_options(sub)

    qr = command("qr", command_qr, "query a remote node for dose objects and optionally retrieve them")
    qr.add_argument("--node", required=True, metavar="NAME", help="the remote node (see qr-node list)")
    qr.add_argument(
        "--modality", action="append", type=str.upper, choices=CHOICES, help="CT, MG, FL or DX; repeat for more"
    )
    qr.add_argument("--sr-only", action="store_true", help="studies of RDSRs only (not with --modality)")
    qr.add_argument("--date-from", metavar="YYYY-MM-DD")
    qr.add_argument("--date-until", metavar="YYYY-MM-DD")
    qr.add_argument("--single-date", metavar="YYYY-MM-DD", help="one date (not with --date-from/--date-until)")
    qr.add_argument("--time-from", metavar="HHMM", help="needs --single-date")
    qr.add_argument("--time-until", metavar="HHMM", help="needs --single-date")
    qr.add_argument(
        "--desc-include", metavar="TERMS", help="study description must include one of these, comma separated"
    )
    qr.add_argument("--desc-exclude", metavar="TERMS", help="study description must not include these, comma separated")
    qr.add_argument("--station-include", metavar="TERMS", help="station name must include one of these")
    qr.add_argument("--station-exclude", metavar="TERMS", help="station name must not include these")
    qr.add_argument(  # "-toshiba" is the manual's spelling (openrem_qr.py)
        "--toshiba", "-toshiba", action="store_true", help="CT: also the first image of each series (Toshiba)"
    )
    qr.add_argument("--retrieve-duplicates", action="store_true", help="also objects processed before")
    qr.add_argument("--retrieve", action="store_true", help="retrieve what the query found")
    qr.add_argument("--wait", action="store_true", help="with --retrieve: return once every object is extracted")
    qr.add_argument("--timeout", type=float, default=3600.0, metavar="SECONDS", help="give up after (default 3600)")


def _orthanc_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--orthanc", metavar="URL", help="Orthanc's URL (default: the service's HTTP port)")
    parser.add_argument(
        "--orthanc-auth", metavar="USER:PASSWORD", help="login for Orthanc's REST API (default: the service's admin)"
    )


def _client(args: argparse.Namespace, service: Service):  # type: ignore[no-untyped-def]
    from orthanc_rem.orthanc_client import OrthancClient

    return OrthancClient(
        args.orthanc or service.settings.orthanc_url, args.orthanc_auth or service.orthanc_authorization()
    )


def _fail(message: str, code: int = 2) -> int:
    print(f"orthanc-rem: {message}", file=sys.stderr)
    return code


def command_qr_node(args: argparse.Namespace, service: Service) -> int:
    from orthanc_rem.orthanc_client import OrthancHttpError, OrthancUnavailable

    sessions = open_database(service.settings, create=args.action == "add")
    with sessions.begin() as session:
        if args.action == "list":
            for listed in store.nodes(session):
                print(_node_line(listed))
            return 0
        node = store.node_named(session, args.name)
        try:
            if args.action == "add":
                node = store.add_node(
                    session,
                    args.name,
                    args.aet,
                    args.host,
                    args.port,
                    args.calling_aet,
                    args.use_modality_in_study_query,
                )
            elif node is None:
                return _fail(f"no node named {args.name!r} (see orthanc-rem qr-node list)")
            elif args.action == "edit":
                changes = {
                    k: v for k, v in (("aet", args.aet), ("host", args.host), ("port", args.port)) if v is not None
                }
                if args.calling_aet is not None:
                    changes["calling_aet"] = args.calling_aet
                if args.use_modality_in_study_query is not None:
                    changes["use_modality_tag"] = args.use_modality_in_study_query
                store.edit_node(session, node, **changes)
        except store.InvalidNode as exc:
            return _fail(f"qr-node {args.action}: {exc}")
        assert node is not None
        client = _client(args, service)
        try:
            if args.action == "remove":
                session.delete(node)
                orthanc_dicom.forget(client, args.name)
                print(f"node {args.name} removed")
                return 0
            orthanc_dicom.declare(client, store.remote(node))
            if args.action == "echo":
                ok, message = orthanc_dicom.echo(client, node.name)
                store.record_echo(session, node, ok, message)
                print(f"{node.name}: {message}")
                return 0 if ok else 1
        except (OrthancHttpError, OrthancUnavailable) as exc:
            if args.action == "echo":
                session.rollback()
                return _fail(f"cannot reach Orthanc: {orthanc_dicom.problem(exc)}", 1)
            print(f"Orthanc not reachable now ({orthanc_dicom.problem(exc)}): it learns the node when a query runs")
        done = "added" if args.action == "add" else "changed"
        print(f"node {node.name}: {node.aet} at {node.host}:{node.port} ({done})")
        return 0


def _node_line(node: model.QrNode) -> str:
    echo = "never echoed" if node.echo_ok is None else ("responding" if node.echo_ok else "not responding")
    return (
        f"{node.name}\t{node.aet}@{node.host}:{node.port}\tcalling AE {node.calling_aet or '(Orthanc)'}"
        f"\tmodality key {'yes' if node.use_modality_tag else 'no'}\t{echo}"
    )


def query_options(args: argparse.Namespace) -> QueryOptions:
    """The command line's options; raises InvalidQuery with the manual's rule when they clash."""
    return QueryOptions(
        modalities=tuple(dict.fromkeys(args.modality or ())),
        sr_only=args.sr_only,
        date_from=parse_date(args.date_from) if args.date_from else None,
        date_until=parse_date(args.date_until) if args.date_until else None,
        single_date=parse_date(args.single_date) if args.single_date else None,
        time_from=parse_hhmm(args.time_from) if args.time_from else None,
        time_until=parse_hhmm(args.time_until) if args.time_until else None,
        desc_include=split_terms(args.desc_include),
        desc_exclude=split_terms(args.desc_exclude),
        station_include=split_terms(args.station_include),
        station_exclude=split_terms(args.station_exclude),
        toshiba=args.toshiba,
        remove_duplicates=not args.retrieve_duplicates,
    ).validate()


def command_qr(args: argparse.Namespace, service: Service) -> int:
    from orthanc_rem.tasks import build_queue

    try:
        options = query_options(args)
    except InvalidQuery as exc:
        return _fail(f"qr: {exc}")
    if args.wait and not args.retrieve:
        return _fail("qr: --wait goes with --retrieve")
    sessions = open_database(service.settings, create=False)
    with sessions.begin() as session:
        node = store.node_named(session, args.node)
        if node is None:
            return _fail(f"qr: no node named {args.node!r} (see orthanc-rem qr-node list)")
        query_id = store.create_query(session, node, options, args.retrieve, created_by="command line").id
    queue = build_queue(service.settings)
    assert queue.qr is not None
    queue.qr.query(query_id)
    print(f"query {query_id} queued")
    return follow(service.settings, sessions, query_id, args.retrieve, args.wait, args.timeout)


def follow(settings: Settings, sessions, query_id: int, retrieve: bool, wait: bool, timeout: float) -> int:  # type: ignore[no-untyped-def]
    """Print the QR log as it grows, then the studies per type; exit status as the manual's
    scripts would want it (0 done, 1 failed, 3 timed out)."""
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    last_line = 0
    hinted = False
    while True:
        job_liveness.fail_stopped_jobs(settings)  # its worker killed: failed, not followed for ever
        with sessions() as session:
            for line in store.log_lines(session, query_id, last_line):
                print(f"[{line.at:%H:%M:%S}] {line.line}", flush=True)
                last_line = line.id
            query = session.get(model.QrQuery, query_id)
            assert query is not None
            status, reason, counts = query.status, query.reason, query.counts
        if status == store.FAILED:
            return _fail(f"qr: query {query_id} failed: {reason}", 1)
        if status == store.RETRIEVED or (status == store.QUERIED and not retrieve):
            break
        if status == store.QUEUED and not hinted and time.monotonic() - started > NO_WORKER_HINT_S:
            print("still waiting for a worker: is the orthanc-rem service running?", file=sys.stderr)
            hinted = True
        if time.monotonic() > deadline:
            return _fail(f"qr: query {query_id} still {status} after {timeout:.0f} s", 3)
        time.sleep(POLL_S)
    per_type = json.loads(counts or "{}")
    print("studies per type: " + (", ".join(f"{kind} {n}" for kind, n in per_type.items()) or "none"))
    if not wait:
        return 0
    while True:
        with sessions() as session:
            progress = store.extraction_progress(session, query_id)
        if progress.done:
            print(f"extracted: {progress.extracted} of {progress.received} retrieved objects have an outcome")
            return 0
        if time.monotonic() > deadline:
            return _fail(
                f"qr: only {progress.extracted} of {progress.received} retrieved objects extracted "
                f"after {timeout:.0f} s",
                3,
            )
        time.sleep(POLL_S)
