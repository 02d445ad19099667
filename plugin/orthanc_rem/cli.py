"""The ``orthanc-rem`` command: import archives of dose objects without Orthanc, dump the database.

``import`` runs exactly the extraction and storage the Orthanc workers run, so old RDSR archives
end up the same as objects received over the network.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.util import CommandError
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import cli_export, cli_sizes, cli_skin_dose, cli_users, database, model, strict_json
from orthanc_rem.config import Settings, load_settings, read_orthanc_configuration
from orthanc_rem.outcome import Outcome

DESCRIPTION = """\
Radiation exposure monitoring for Orthanc, from the command line: import archives of dose objects
without Orthanc (the same extraction and storage the service's workers run), dump the database as
JSON, re-extract studies from Orthanc, change import settings and equipment names."""

#: The configuration scripts/serve starts Orthanc with, when the CLI runs from the same checkout.
REPOSITORY_CONFIGURATION = Path(__file__).resolve().parents[2] / "orthanc-config" / "orthanc.json"


class CannotOpenDatabase(Exception):
    """The dose database is missing or unreadable: one line for the user, exit code 2."""


class CannotReadConfiguration(Exception):
    """The service's configuration file named cannot be read: one line for the user, exit code 2."""


@dataclass(frozen=True)
class Service:
    """What the command knows of the service it works beside: settings and Orthanc's configuration."""

    settings: Settings
    orthanc_configuration: Mapping[str, Any]

    def orthanc_authorization(self) -> str | None:
        """The service account of our section, else Orthanc's first registered user (the admin
        scripts/serve creates), so that reprocess works as the operator who runs the service."""
        if self.settings.orthanc_authorization:
            return self.settings.orthanc_authorization
        users = self.orthanc_configuration.get("RegisteredUsers") or {}
        if users:  # checked by Orthanc, or by our plugin when Orthanc's authentication is off
            user, password = next(iter(users.items()))
            if password:
                return f"{user}:{password}"
        return None


def configuration_path(args: argparse.Namespace, environ: Mapping[str, str]) -> Path | None:
    """``--config``, else ``$ORTHANC_REM_ORTHANC_CONFIG``, else this checkout's orthanc-config (the
    same choice scripts/serve makes); None when none exists (defaults then apply)."""
    named = args.config or environ.get("ORTHANC_REM_ORTHANC_CONFIG")
    if named:
        return Path(named)
    if environ.get("ORTHANC_REM_CONFIG"):
        return None  # load_settings reads this plain-JSON override itself
    return REPOSITORY_CONFIGURATION if REPOSITORY_CONFIGURATION.is_file() else None


def service(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Service:
    env = dict(os.environ if environ is None else environ)
    path = configuration_path(args, env)
    if path is None:
        return Service(load_settings(environ=env, database_url=args.database), {})
    try:
        configuration = read_orthanc_configuration(path, env)
        settings = load_settings(configuration, env, args.database)
        if "ORTHANC_REM_ADMIN_PASSWORD" not in env:
            # scripts/serve keeps the generated admin password in the data folder.
            password_file = settings.data_dir / "admin-password"
            if password_file.is_file() and os.access(password_file, os.R_OK):
                env["ORTHANC_REM_ADMIN_PASSWORD"] = password_file.read_text("utf-8").strip()
                configuration = read_orthanc_configuration(path, env)
    except (OSError, ValueError) as exc:
        raise CannotReadConfiguration(f"cannot read the service configuration {path}: {exc}") from exc
    return Service(settings, configuration)


def open_database(settings: Settings, *, create: bool) -> sessionmaker[Session]:
    """Sessions on the dose database, its schema brought up to date.

    ``create`` is for commands that may start a new database (import, migrate, settings); the
    others refuse a SQLite file that does not exist rather than answer from a new empty one.
    """
    url = settings.database_url
    where = database.describe(url) if "://" in url else url
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            where = str(parsed.database)
            if not create and not Path(where).is_file():
                raise CannotOpenDatabase(
                    f"cannot open the dose database at {where}: no such file "
                    "(give --database, or create it with 'orthanc-rem migrate')"
                )
        database.upgrade_schema(url)
        return database.session_factory(url)
    except CannotOpenDatabase:
        raise
    except (SQLAlchemyError, OSError, ImportError, CommandError) as exc:
        raise CannotOpenDatabase(f"cannot open the dose database at {where}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    reason = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(reason).strip().splitlines()
    return text[0] if text else type(reason).__name__


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


def command_import(args: argparse.Namespace, service: Service) -> int:
    from orthanc_rem.ingest import ingest_object

    sessions = open_database(service.settings, create=True)
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
    return 1 if counts[Outcome.FAILED] or counts["missing"] else 0


def command_dump(args: argparse.Namespace, service: Service) -> int:
    from orthanc_rem.study_document import study_document

    sessions = open_database(service.settings, create=False)
    with sessions() as session:
        studies = session.scalars(select(model.Study).order_by(model.Study.id)).all()
        documents = [study_document(study) for study in studies]
    strict_json.dump(documents, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


def command_reprocess(args: argparse.Namespace, service: Service) -> int:
    from orthanc_rem.orthanc_client import OrthancClient
    from orthanc_rem.reprocess import REJECTED_OUTCOMES, StudySkipped, reprocess_studies, retry_rejected

    if args.include_not_dose_reports and not args.rejected:
        print("orthanc-rem reprocess: --include-not-dose-reports goes with --rejected", file=sys.stderr)
        return 2
    if not (args.rejected or args.all or args.study):
        print("orthanc-rem reprocess: name studies with --study ID, or give --all or --rejected", file=sys.stderr)
        return 2
    sessions = open_database(service.settings, create=False)
    client = OrthancClient(
        args.orthanc or service.settings.orthanc_url, args.orthanc_auth or service.orthanc_authorization()
    )
    if args.rejected:
        outcomes = REJECTED_OUTCOMES if args.include_not_dose_reports else (Outcome.FAILED,)
        from orthanc_rem.toshiba_ct.study_task import ToshibaCtConfig

        results = retry_rejected(
            sessions, client, outcomes, ToshibaCtConfig(systems=service.settings.toshiba_ct_systems)
        )
    else:
        results = reprocess_studies(sessions, client, None if args.all else args.study)
    counts: Counter[str] = Counter()
    for result in results:
        if isinstance(result, StudySkipped):
            counts["skipped study"] += 1
            print(f"study {result.study_id}: skipped ({result.reason})")
        else:
            counts[result.outcome] += 1
            print(f"{result.source}: {result.outcome}{f' ({result.reason})' if result.reason else ''}")
    print(f"orthanc-rem reprocess: {', '.join(f'{n} {w}' for w, n in sorted(counts.items())) or 'nothing to do'}")
    return 1 if counts[Outcome.FAILED] else 0


def command_reconcile(args: argparse.Namespace, service: Service) -> int:
    """Re-queue every instance Orthanc holds that has no stored outcome (a task lost by a killed
    worker); the service also does this, after the catch-up, each time Orthanc starts."""
    from orthanc_rem.orthanc_client import OrthancClient, OrthancHttpError, OrthancUnavailable
    from orthanc_rem.tasks import build_queue

    sessions = open_database(service.settings, create=False)
    client = OrthancClient(
        args.orthanc or service.settings.orthanc_url, args.orthanc_auth or service.orthanc_authorization()
    )
    try:
        summary = build_queue(service.settings).recover(sessions, client, catch_up=args.catch_up)
    except (OrthancHttpError, OrthancUnavailable) as exc:
        print(f"orthanc-rem reconcile: cannot read Orthanc's instances: {exc}", file=sys.stderr)
        return 2
    print(f"orthanc-rem reconcile: {summary}")
    return 0


def command_settings(args: argparse.Namespace, service: Service) -> int:
    from orthanc_rem import export_settings, import_settings

    with open_database(service.settings, create=True)() as session:
        try:
            if args.set:
                changes = {}
                for assignment in args.set:
                    name, _, value = assignment.partition("=")
                    if name == "export_date_format":  # the one text setting (orthanc_rem.export_settings)
                        export_settings.change_date_format(session, value)
                        continue
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
        session.commit()
        strict_json.dump(import_settings.describe(session), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


def command_equipment(args: argparse.Namespace, service: Service) -> int:
    from orthanc_rem import equipment_admin

    with open_database(service.settings, create=False)() as session:
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
        strict_json.dump(equipment_admin.list_equipment(session), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


def command_migrate(args: argparse.Namespace, service: Service) -> int:
    open_database(service.settings, create=True)
    print(f"database {database.describe(service.settings.database_url)} is up to date")
    return 0


def _global_options(parser: argparse.ArgumentParser, *, on_sub_command: bool) -> None:
    """Options every sub-command takes, before or after its name (``orthanc-rem dump --database X``).

    On a sub-command their default is "not given", so that a value given before the sub-command's
    name is not overwritten by the sub-command's default.
    """
    default: dict[str, Any] = {"default": argparse.SUPPRESS} if on_sub_command else {}
    group = parser.add_argument_group("global options")
    group.add_argument(
        "--database",
        metavar="URL",
        help="SQLAlchemy URL of the dose database, e.g. sqlite:////path/orthanc-rem.sqlite or "
        "postgresql://user@host/orthanc_rem (default: $ORTHANC_REM_DATABASE, else the service's own)",
        **default,
    )
    group.add_argument(
        "--config",
        metavar="FILE",
        help="the Orthanc configuration the service runs with, for its database, data folder, HTTP "
        "port and login (default: $ORTHANC_REM_ORTHANC_CONFIG, else orthanc-config/orthanc.json "
        "of this installation, as scripts/serve uses)",
        **default,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orthanc-rem", description=DESCRIPTION)
    _global_options(parser, on_sub_command=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Callable[[argparse.Namespace, Service], int], summary: str) -> Any:
        sub = commands.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".")
        _global_options(sub, on_sub_command=True)
        sub.set_defaults(run=run)
        return sub

    importer = command("import", command_import, "import DICOM dose objects from files, globs or folders")
    importer.add_argument("files", nargs="+", metavar="FILE_OR_FOLDER_OR_GLOB")
    command("dump", command_dump, "print every stored study as JSON (the API's document)")
    command("migrate", command_migrate, "create or upgrade the database schema")
    reprocess = command(
        "reprocess",
        command_reprocess,
        "extract studies (or objects not imported) again from the objects Orthanc still holds",
    )
    chosen = reprocess.add_mutually_exclusive_group()
    chosen.add_argument(
        "--study", type=int, action="append", metavar="ID", help="study id (as in the API); repeat for more"
    )
    chosen.add_argument("--all", action="store_true", help="every study")
    chosen.add_argument("--rejected", action="store_true", help="every object that failed (quarantined)")
    reprocess.add_argument(
        "--include-not-dose-reports",
        action="store_true",
        help="with --rejected: also the objects listed as not a dose report (after an importer was added)",
    )
    reprocess.add_argument("--orthanc", metavar="URL", help="Orthanc's URL (default: the service's HTTP port)")
    reprocess.add_argument(
        "--orthanc-auth",
        metavar="USER:PASSWORD",
        help="login for Orthanc's REST API (default: the service's OrthancAuthorization, else its admin user)",
    )
    reconcile = command(
        "reconcile",
        command_reconcile,
        "queue again every object Orthanc holds that has no outcome (lost by a killed worker)",
    )
    reconcile.add_argument("--catch-up", action="store_true", help="also replay Orthanc's changes since the last run")
    reconcile.add_argument("--orthanc", metavar="URL", help="Orthanc's URL (default: the service's HTTP port)")
    reconcile.add_argument(
        "--orthanc-auth",
        metavar="USER:PASSWORD",
        help="login for Orthanc's REST API (default: the service's OrthancAuthorization, else its admin user)",
    )
    config = command(
        "settings",
        command_settings,
        "show or change import settings (patient identifiable data, not-patient patterns, deletion)",
    )
    config.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="e.g. store_patient_id=true; export_date_format=yyyy-mm-dd (dates in XLSX exports)",
    )
    config.add_argument("--add-not-patient", nargs=2, action="append", metavar=("name|id", "PATTERN"))
    config.add_argument("--remove-not-patient", nargs=2, action="append", metavar=("name|id", "PATTERN"))
    config.add_argument("--add-074-defaults", action="store_true", help="add the patterns OpenREM 0.7.4 used")
    equipment = command(
        "equipment",
        command_equipment,
        "list systems; set display names and user-defined modality (DX, RF, Dual, none)",
    )
    equipment.add_argument("--id", type=int, action="append", help="equipment id (see the list); repeat for more")
    equipment.add_argument("--display-name", help="new display name for the given systems")
    equipment.add_argument("--modality", help="user-defined modality: DX, RF, Dual or none (re-labels studies)")
    cli_sizes.register(command)
    cli_users.register(command, _global_options)
    from orthanc_rem import cli_qr  # here: cli_qr imports this module

    cli_qr.register(command)
    cli_export.register(command)
    cli_skin_dose.register(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status = int(args.run(args, service(args)))
        sys.stdout.flush()  # a closed pipe shows here, not in Python's own flush at exit
        return status
    except (CannotOpenDatabase, CannotReadConfiguration) as exc:
        print(f"orthanc-rem: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (``orthanc-rem dump | head``): stop quietly as Unix tools do, and keep
        # Python from reporting the pipe again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # what a shell reports for a process ended by SIGPIPE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
