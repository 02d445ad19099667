"""Entry point of an extraction worker process: ``python -m orthanc_rem.worker``.

Started (and stopped) by the plugin together with Orthanc, or run on its own, e.g. as a
separate container next to Orthanc with a Redis queue. Settings come from the environment
(see ``config.load_settings``).
"""

from __future__ import annotations

import argparse
import logging

from orthanc_rem import database
from orthanc_rem.config import load_settings
from orthanc_rem.tasks import build_queue


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="orthanc-rem-worker")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: settings)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s orthanc-rem-worker %(levelname)s %(message)s")
    # Alembic announces every plugin it sets up and huey every task it runs: one line per object
    # (ours, in tasks.py) is what an administrator wants in Orthanc's log.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("huey").setLevel(logging.WARNING)
    settings = load_settings()
    database.upgrade_schema(settings.database_url)
    database.dispose_all()  # no pooled connection may cross the fork into worker processes
    queue = build_queue(settings)
    consumer = queue.huey.create_consumer(
        workers=args.workers or settings.workers,
        worker_type="process",
        periodic=False,
        # Poll quickly and never back off far: store-to-row latency matters more than an idle
        # worker's few queries per second.
        initial_delay=0.02,
        backoff=1.2,
        max_delay=0.25,
    )
    consumer.run()


if __name__ == "__main__":
    main()
