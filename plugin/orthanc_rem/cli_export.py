"""``orthanc-rem export``: the Exports page's background export, run from the command line.

For scheduled reporting without a browser (cron): the same filters as the study lists and the
API, the same job record and the same code (``export_jobs.run_job``), the file written where
``--output`` says. A progress bar goes to standard error, only when it is a terminal.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from orthanc_rem.exports.columns import PatientData
from orthanc_rem.exports.runner import LAYOUTS, ExportFormat, ExportRequest

#: Options that are list filters, as (option, query parameter).
FILTER_OPTIONS = (
    ("date_from", "date_from"),
    ("date_until", "date_until"),
    ("display_name", "display_name"),
    ("study_description", "study_description"),
)


def register(command: Callable[..., Any]) -> None:
    """Add the sub-command; ``command`` is ``cli.build_parser``'s sub-command factory."""
    export = command("export", command_export, "export studies to CSV, XLSX or NHSBSP CSV in OpenREM's layout")
    export.add_argument("--modality", required=True, type=str.upper, choices=sorted(LAYOUTS))
    export.add_argument("--format", required=True, type=str.lower, choices=[f.value for f in ExportFormat])
    export.add_argument("--output", required=True, metavar="FILE", type=Path)
    filters = export.add_argument_group("filters (as the study lists and the API)")
    filters.add_argument("--date-from", metavar="YYYY-MM-DD", help="study date on or after")
    filters.add_argument("--date-until", metavar="YYYY-MM-DD", help="study date on or before")
    filters.add_argument("--display-name", help="the system's display name, exactly")
    filters.add_argument("--study-description", help="study description")
    filters.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any other list filter by its query parameter name (as in the list page's URL)",
    )
    export.add_argument("--with-names", action="store_true", help="add patient names (and birth date)")
    export.add_argument("--with-ids", action="store_true", help="add patient IDs (and birth date)")
    export.add_argument("--bom", action="store_true", help="CSV: start with a UTF-8 byte order mark (for Excel)")


def query_arguments(args: argparse.Namespace) -> dict[str, str]:
    """The options as the list page's query string would carry them."""
    query = {name: getattr(args, option) for option, name in FILTER_OPTIONS if getattr(args, option)}
    for assignment in args.filter:
        name, equals, value = assignment.partition("=")
        if not equals or not name:
            raise ValueError(f"--filter {assignment!r}: write NAME=VALUE")
        query[name.strip()] = value
    return query


class ProgressBar:
    """``exporting [#####.....] 1500/3000 studies`` on one line of a terminal."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream, self.width = stream, width

    def __call__(self, done: int, total: int) -> None:
        filled = self.width * done // max(total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\rexporting [{bar}] {done}/{total} studies")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def command_export(args: argparse.Namespace, service: Any) -> int:
    from orthanc_rem import export_jobs
    from orthanc_rem.cli import open_database
    from orthanc_rem.exports.selection import selected_studies
    from orthanc_rem.study_filters import BadParameter

    try:
        request = ExportRequest(
            args.modality,
            ExportFormat(args.format),
            PatientData(args.with_names, args.with_ids),
            byte_order_mark=args.bom,
        )
        filters = query_arguments(args)
        selected_studies(request.modality, filters)  # a bad filter fails here, before a job is recorded
    except (ValueError, BadParameter) as exc:
        print(f"orthanc-rem export: {exc}", file=sys.stderr)
        return 2
    sessions = open_database(service.settings, create=False)
    with sessions() as session:
        job = export_jobs.create_job(session, owner=None, request=request, filters=filters)
        session.commit()
        job_id = job.id
    progress = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    output = args.output.resolve()
    job = export_jobs.run_job(service.settings, job_id, selected_studies, progress, output=output)
    if job.status != export_jobs.Status.FINISHED:
        print(f"orthanc-rem export: {job.status}: {job.error or ''}".rstrip(": "), file=sys.stderr)
        return 1
    note = f" ({job.error})" if job.error else ""
    print(f"orthanc-rem export: {job.studies_total} studies, {job.rows_written} rows written to {output}{note}")
    return 0
