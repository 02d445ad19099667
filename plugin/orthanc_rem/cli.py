"""The ``orthanc-rem`` command: import archives of dose objects without Orthanc, dump the database.

``import`` runs exactly the extraction and storage the Orthanc workers run, so old RDSR archives
end up the same as objects received over the network.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select

from orthanc_rem import database, model
from orthanc_rem.config import load_settings


def expand_paths(patterns: list[str]) -> Iterator[Path]:
    """Files named, matched by a glob (quoted globs work too) or found under a folder, sorted."""
    for pattern in patterns:
        matches = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            print(f"orthanc-rem: no file matches {pattern}", file=sys.stderr)
        for match in matches:
            path = Path(match)
            if path.is_dir():
                yield from sorted(p for p in path.rglob("*") if p.is_file())
            else:
                yield path


def command_import(args: argparse.Namespace) -> int:
    from orthanc_rem.ingest import ingest_object

    settings = load_settings(database_url=args.database)
    database.upgrade_schema(settings.database_url)
    sessions = database.session_factory(settings.database_url)
    counts: Counter[str] = Counter()
    for path in expand_paths(args.files):
        if not path.exists():
            counts["missing"] += 1
            print(f"{path}: missing", file=sys.stderr)
            continue
        outcome = ingest_object(sessions, path, source=f"file:{path.resolve()}")
        counts[outcome.outcome] += 1
        detail = f" ({outcome.reason})" if outcome.reason else ""
        print(f"{path}: {outcome.outcome}{detail}")
    summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
    print(f"orthanc-rem import: {summary or 'nothing to import'}")
    return 1 if counts["failed"] or counts["missing"] else 0


def command_dump(args: argparse.Namespace) -> int:
    from orthanc_rem.study_document import study_document

    settings = load_settings(database_url=args.database)
    database.upgrade_schema(settings.database_url)
    sessions = database.session_factory(settings.database_url)
    with sessions() as session:
        studies = session.scalars(select(model.Study).order_by(model.Study.id)).all()
        documents = [study_document(study) for study in studies]
    json.dump(documents, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


def command_reprocess(args: argparse.Namespace) -> int:
    from orthanc_rem.orthanc_client import OrthancClient
    from orthanc_rem.reprocess import StudySkipped, reprocess_studies, retry_rejected

    settings = load_settings(database_url=args.database)
    database.upgrade_schema(settings.database_url)
    sessions = database.session_factory(settings.database_url)
    client = OrthancClient(args.orthanc or settings.orthanc_url, args.orthanc_auth or settings.orthanc_authorization)
    if args.rejected:
        results = retry_rejected(sessions, client)
    elif args.all or args.study:
        results = reprocess_studies(sessions, client, None if args.all else args.study)
    else:
        print("orthanc-rem reprocess: name studies with --study ID, or give --all or --rejected", file=sys.stderr)
        return 2
    counts: Counter[str] = Counter()
    for result in results:
        if isinstance(result, StudySkipped):
            counts["skipped study"] += 1
            print(f"study {result.study_id}: skipped ({result.reason})")
        else:
            counts[result.outcome] += 1
            print(f"{result.source}: {result.outcome}{f' ({result.reason})' if result.reason else ''}")
    print(f"orthanc-rem reprocess: {', '.join(f'{n} {w}' for w, n in sorted(counts.items())) or 'nothing to do'}")
    return 1 if counts["failed"] else 0


def command_reconcile(args: argparse.Namespace) -> int:
    """Re-queue every instance Orthanc holds that has no stored outcome (a task lost by a killed
    worker); the service also does this, after the catch-up, each time Orthanc starts."""
    from orthanc_rem.orthanc_client import OrthancClient, OrthancHttpError, OrthancUnavailable
    from orthanc_rem.tasks import build_queue

    settings = load_settings(database_url=args.database)
    database.upgrade_schema(settings.database_url)
    sessions = database.session_factory(settings.database_url)
    client = OrthancClient(args.orthanc or settings.orthanc_url, args.orthanc_auth or settings.orthanc_authorization)
    try:
        summary = build_queue(settings).recover(sessions, client, catch_up=args.catch_up)
    except (OrthancHttpError, OrthancUnavailable) as exc:
        print(f"orthanc-rem reconcile: cannot read Orthanc's instances: {exc}", file=sys.stderr)
        return 2
    print(f"orthanc-rem reconcile: {summary}")
    return 0


def command_settings(args: argparse.Namespace) -> int:
    from orthanc_rem import import_settings

    settings = load_settings(database_url=args.database)
    database.upgrade_schema(settings.database_url)
    with database.session_factory(settings.database_url)() as session:
        try:
            if args.set:
                changes = {}
                for assignment in args.set:
                    name, _, value = assignment.partition("=")
                    if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
                        raise ValueError(f"{assignment!r}: write NAME=true or NAME=false")
                    changes[name] = value.lower() in ("true", "yes", "1")
                import_settings.change(session, **changes)
            for applies_to, pattern in args.add_not_patient or ():
                import_settings.add_not_patient_pattern(session, applies_to, pattern)
            for applies_to, pattern in args.remove_not_patient or ():
                if not import_settings.remove_not_patient_pattern(session, applies_to, pattern):
                    print(f"no {applies_to} pattern {pattern!r}", file=sys.stderr)
            if args.add_074_defaults:
                import_settings.add_074_defaults(session)
        except ValueError as exc:
            print(f"orthanc-rem settings: {exc}", file=sys.stderr)
            return 2
        json.dump(import_settings.describe(session), sys.stdout, indent=2, ensure_ascii=False)
        session.commit()
    sys.stdout.write("\n")
    return 0


def command_equipment(args: argparse.Namespace) -> int:
    from orthanc_rem import equipment_admin

    settings = load_settings(database_url=args.database)
    database.upgrade_schema(settings.database_url)
    with database.session_factory(settings.database_url)() as session:
        try:
            if args.display_name is not None:
                equipment_admin.set_display_name(session, args.id or [], args.display_name)
            if args.modality is not None:
                value = None if args.modality.lower() == "none" else args.modality
                if value is not None and value.lower() == "dual":
                    value = "Dual"
                changed = equipment_admin.set_user_defined_modality(session, args.id or [], value)
                print(f"{changed} studies re-labelled", file=sys.stderr)
        except ValueError as exc:
            print(f"orthanc-rem equipment: {exc}", file=sys.stderr)
            return 2
        json.dump(equipment_admin.list_equipment(session), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


def command_migrate(args: argparse.Namespace) -> int:
    settings = load_settings(database_url=args.database)
    database.upgrade_schema(settings.database_url)
    print(f"database {database.describe(settings.database_url)} is up to date")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orthanc-rem", description=__doc__)
    parser.add_argument(
        "--database",
        help="SQLAlchemy URL of the dose database (default: $ORTHANC_REM_DATABASE, else the service's own)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    importer = commands.add_parser("import", help="import DICOM dose objects from files, globs or folders")
    importer.add_argument("files", nargs="+")
    importer.set_defaults(run=command_import)
    dump = commands.add_parser("dump", help="print every stored study as JSON (the API's document)")
    dump.set_defaults(run=command_dump)
    migrate = commands.add_parser("migrate", help="create or upgrade the database schema")
    migrate.set_defaults(run=command_migrate)
    reprocess = commands.add_parser(
        "reprocess", help="extract studies (or quarantined objects) again from the objects Orthanc still holds"
    )
    chosen = reprocess.add_mutually_exclusive_group()
    chosen.add_argument("--study", type=int, action="append", help="study id (as in the API); repeat for more")
    chosen.add_argument("--all", action="store_true", help="every study")
    chosen.add_argument("--rejected", action="store_true", help="every quarantined (failed) object")
    reprocess.add_argument("--orthanc", help="Orthanc's URL (default: the service's)")
    reprocess.add_argument("--orthanc-auth", help="user:password for Orthanc's REST API")
    reprocess.set_defaults(run=command_reprocess)
    reconcile = commands.add_parser(
        "reconcile", help="queue again every object Orthanc holds that has no outcome (lost by a killed worker)"
    )
    reconcile.add_argument("--catch-up", action="store_true", help="also replay Orthanc's changes since the last run")
    reconcile.add_argument("--orthanc", help="Orthanc's URL (default: the service's)")
    reconcile.add_argument("--orthanc-auth", help="user:password for Orthanc's REST API")
    reconcile.set_defaults(run=command_reconcile)
    config = commands.add_parser(
        "settings",
        help="show or change import settings (patient identifiable data, not-patient patterns, deletion)",
    )
    config.add_argument("--set", action="append", metavar="NAME=true|false", help="e.g. store_patient_id=true")
    config.add_argument("--add-not-patient", nargs=2, action="append", metavar=("name|id", "PATTERN"))
    config.add_argument("--remove-not-patient", nargs=2, action="append", metavar=("name|id", "PATTERN"))
    config.add_argument("--add-074-defaults", action="store_true", help="add the patterns OpenREM 0.7.4 used")
    config.set_defaults(run=command_settings)
    equipment = commands.add_parser(
        "equipment", help="list systems; set display names and user-defined modality (DX, RF, Dual, none)"
    )
    equipment.add_argument("--id", type=int, action="append", help="equipment id (see the list); repeat for more")
    equipment.add_argument("--display-name", help="new display name for the given systems")
    equipment.add_argument("--modality", help="user-defined modality: DX, RF, Dual or none (re-labels studies)")
    equipment.set_defaults(run=command_equipment)
    for sub in (importer, dump, migrate, reprocess, reconcile, config, equipment):
        sub.add_argument("--database", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
