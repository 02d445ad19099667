"""``orthanc-rem import-sizes``: patient heights and weights from a CSV file, on the command line.

The manual's ``openrem_ptsizecsv.py`` (L3351-3371) with named options; the rules (never
overwrite, first row per identifier wins, heights in cm unless told) are those of the web
import, because both call ``patient_size_import.import_sizes``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orthanc_rem.patient_size_import import (
    ACCESSION_NUMBER,
    HEIGHT_UNITS,
    STUDY_INSTANCE_UID,
    SizeColumns,
    SizeFileError,
    import_sizes,
    read_size_file,
    summary_line,
)

ID_TYPES = {"accession": ACCESSION_NUMBER, "study-uid": STUDY_INSTANCE_UID}


def command_import_sizes(args: argparse.Namespace, service: Any) -> int:
    from orthanc_rem.cli import open_database

    path = Path(args.file)
    try:
        content = path.read_bytes()
    except OSError as exc:
        print(f"orthanc-rem import-sizes: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    columns = SizeColumns(
        identifier=args.id_column,
        identifier_type=ID_TYPES[args.id_type],
        height=args.height_column or None,
        weight=args.weight_column or None,
        height_unit=args.height_unit,
    )
    try:
        table = read_size_file(content)
        columns.check(table.headers)
    except SizeFileError as exc:
        print(f"orthanc-rem import-sizes: {path}: {exc}", file=sys.stderr)
        return 2
    with open_database(service.settings, create=False)() as session:
        print(f"Patient size import from {path}")
        summary = import_sizes(session, table, columns, log=print if args.verbose else lambda line: None)
    print(summary_line(summary))
    return 0


def register(command: Callable[..., Any]) -> None:
    """Add the sub-command through ``cli.build_parser``'s ``command`` helper."""
    sizes = command(
        "import-sizes",
        command_import_sizes,
        "store patient heights and weights from a CSV file (never overwriting stored values)",
    )
    sizes.add_argument("file", metavar="CSV_FILE", help="CSV file with a header row")
    sizes.add_argument("--id-column", required=True, metavar="TITLE", help="title of the study identifier column")
    sizes.add_argument(
        "--id-type",
        choices=sorted(ID_TYPES),
        default="accession",
        help="what the identifier column holds: accession number (default) or Study Instance UID",
    )
    sizes.add_argument("--height-column", metavar="TITLE", help="title of the patient height column")
    sizes.add_argument("--weight-column", metavar="TITLE", help="title of the patient weight column (kg)")
    sizes.add_argument(
        "--height-unit", choices=sorted(HEIGHT_UNITS), default="cm", help="unit of the heights in the file (default cm)"
    )
    sizes.add_argument("-v", "--verbose", action="store_true", help="print what was done for each identifier")
