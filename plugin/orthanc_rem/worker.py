"""Entry point of an extraction worker process: ``python -m orthanc_rem.worker``.

Started (and stopped) by the plugin together with Orthanc, or run on its own, e.g. as a
separate container next to Orthanc with a Redis queue. Settings come from the environment
(see ``config.load_settings``).
"""

from __future__ import annotations

import signal
from types import FrameType


def exit_quietly_before_the_consumer_runs(signum: int, frame: FrameType | None) -> None:
    """Stop a pool that is still starting: exit with status 0, without a traceback.

    The plugin stops the pool with SIGINT, huey's graceful signal. Until huey's consumer installs
    its own handlers, Python's default turns SIGINT into a KeyboardInterrupt: an Orthanc stopped
    during the pool's first half-second (imports, migrations) wrote that traceback into Orthanc's
    log, where it reads like a crash. Nothing runs yet that a stop would cut short; an unfinished
    migration is rolled back by its transaction.
    """
    raise SystemExit(0)


if __name__ == "__main__":
    # Before the slow imports below (SQLAlchemy, pydicom, huey: most of a start's half-second).
    signal.signal(signal.SIGINT, exit_quietly_before_the_consumer_runs)
    signal.signal(signal.SIGTERM, exit_quietly_before_the_consumer_runs)

import argparse  # noqa: E402
import ctypes  # noqa: E402
import gc  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from sqlalchemy.orm import configure_mappers  # noqa: E402

from orthanc_rem import database, job_liveness, worker_log  # noqa: E402
from orthanc_rem.config import load_settings  # noqa: E402
from orthanc_rem.supervisor import PARENT_PID_VARIABLE  # noqa: E402
from orthanc_rem.tasks import build_queue  # noqa: E402

#: prctl(2) option: the signal a process gets when its parent (thread) dies.
PR_SET_PDEATHSIG = 1


def die_with(parent_pid: int) -> None:
    """Have Linux kill this process when ``parent_pid`` dies, and exit if it already has.

    SIGKILL, not SIGTERM: huey's process workers ignore the graceful signal, and an orphan must
    not finish, or start, anything with the dead Orthanc's token. A task cut short is found by
    ``orthanc-rem reconcile`` at the next start. Between fork and prctl the parent may already
    be gone (we would then be PID 1's child): check after setting it.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:
        os._exit(0)


#: Python's cyclic garbage collector runs a young-generation pass every this many net allocations
#: of container objects (Python's default: 700).
GC_YOUNG_THRESHOLD = 5000


def prepare_to_fork_workers() -> None:
    """Work done once in the pool's process, before huey forks the worker processes, that each
    worker would otherwise do (or redo) for itself. Measured with ``benchmarks/worker_cpu.py``.

    * The ORM's mappers are configured on first use, at 0.2-0.5 s of CPU per process.
    * The garbage collector took 0.7 ms of a CT object's ~10 ms: every 700 allocations a young
      pass, and now and then a full pass over every object of the process (~100 ms: the modules,
      SQLAlchemy's and pydicom's tables). ``gc.freeze()`` leaves what exists now (all of that) out
      of every pass, and a young pass every 5000 allocations is enough for a worker whose objects
      are freed by reference counting when each task ends. Cyclic garbage is still collected.
    """
    configure_mappers()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="orthanc-rem-worker")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: settings)")
    args = parser.parse_args(argv)
    if os.environ.get(PARENT_PID_VARIABLE):
        # Started by Orthanc's plugin: the pool dies with Orthanc, each forked worker with the pool.
        die_with(int(os.environ[PARENT_PID_VARIABLE]))
        pool_pid = os.getpid()
        os.register_at_fork(after_in_child=lambda: die_with(pool_pid))
    settings = load_settings()
    worker_log.configure(settings.data_dir, os.environ.get("ORTHANC_REM_LOG_LEVEL"))
    database.upgrade_schema(settings.database_url)
    job_liveness.fail_stopped_jobs(settings)  # jobs of workers killed before this start (logged)
    database.dispose_all()  # no pooled connection may cross the fork into worker processes
    prepare_to_fork_workers()
    queue = build_queue(settings)
    consumer = queue.huey.create_consumer(
        # "Workers": 0 tells the plugin to start none; a pool started by hand still needs some.
        workers=args.workers or settings.workers or 2,
        worker_type="process",
        # Scheduled queries (orthanc_rem.qr.schedules) are huey periodic tasks: one consumer runs them.
        periodic=True,
        # Poll quickly and never back off far: store-to-row latency matters more than an idle
        # worker's few queries per second.
        initial_delay=0.02,
        backoff=1.2,
        max_delay=0.25,
    )
    consumer.run()


if __name__ == "__main__":
    main()
