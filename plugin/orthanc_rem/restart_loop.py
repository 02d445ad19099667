"""Keep Orthanc running: ``python -m orthanc_rem.restart_loop -- /usr/sbin/Orthanc orthanc.json``.

Orthanc 1.10.1 segfaults inside DCMTK on a dose report nested 10,000 levels deep, sent by any
calling AE (issue 6); we cannot fix DCMTK, so the deployment brings Orthanc back. This loop, which
``scripts/serve`` runs in the foreground, restarts Orthanc whenever it dies abnormally (a signal
or a non-zero exit), after a short back-off that doubles while it keeps dying young (a crash loop,
e.g. a broken configuration, should not spin) and resets once it has run a while. On start the
plugin's catch-up and reconciliation (``orthanc_rem.recovery``) pick up whatever the crash
interrupted. Orthanc stopping cleanly (exit 0) ends the loop; so do Ctrl-C and SIGTERM, which
are passed on to Orthanc.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType

FIRST_DELAY_S = 1.0
LONGEST_DELAY_S = 30.0
#: Orthanc running this long counts as healthy: the next crash is restarted after FIRST_DELAY_S.
HEALTHY_AFTER_S = 60.0


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


def keep_running(
    command: Sequence[str],
    *,
    first_delay: float = FIRST_DELAY_S,
    longest_delay: float = LONGEST_DELAY_S,
    healthy_after: float = HEALTHY_AFTER_S,
    say: Callable[[str], None] = lambda line: print(f"orthanc-rem: {line}", file=sys.stderr, flush=True),
) -> int:
    """Run ``command`` until it exits cleanly or we are asked to stop (then 0 is returned)."""
    stopping = threading.Event()
    current: list[subprocess.Popen[bytes]] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        stopping.set()
        for process in current:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)

    delay = first_delay
    while True:
        started = time.monotonic()
        process = subprocess.Popen(list(command))
        current[:] = [process]
        returncode = process.wait()
        if stopping.is_set():
            return 0
        if returncode == 0:
            return 0
        if time.monotonic() - started >= healthy_after:
            delay = first_delay
        say(f"Orthanc {describe_exit(returncode)}; restarting in {delay:g} s")
        if stopping.wait(delay):
            return 0
        delay = min(delay * 2, longest_delay)


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["--"]:
        arguments = arguments[1:]
    if not arguments:
        print("usage: python -m orthanc_rem.restart_loop -- ORTHANC_BINARY CONFIG...", file=sys.stderr)
        return 2
    return keep_running(arguments)


if __name__ == "__main__":
    sys.exit(main())
