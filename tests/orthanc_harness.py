"""Start a real Orthanc 1.10.1 with the real orthanc-python 4.0 plugin for integration tests.

Why a real process: the facts our plugin code depends on (percent-encoded GET values, status codes the core
refuses, headers cleared by ``Redirect``, the 3-argument ``SendHttpStatus`` of 4.0, the GIL held during SDK
calls) only show up inside Orthanc; orthanc-notes.md §4 describes the pattern (free loopback ports,
temp config, poll ``/system``, terminate with a timeout, scan the log for Python errors), modelled on
orthanc-tests ``NewTests/helpers.py``.

Typical use from a test module::

    @pytest.fixture
    def orthanc(tmp_path):
        with running_orthanc(tmp_path, python_source=SCRIPT, config={"StableAge": 1}) as process:
            yield process

``running_orthanc`` prints the log tail at teardown (pytest shows it only for failing tests), fails if the
process hangs on shutdown (a non-daemon thread keeps Orthanc at "Python plugin is finalizing", notes §1.9) and
fails if the log shows Python errors other than the ``expected_errors`` a test provokes on purpose.
With a module-scoped process, also print ``process.log_tail()`` from an autouse function fixture after each
test, so the log shows up next to the test that failed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Self, TypeVar

import pytest

ORTHANC_BINARY = Path("/usr/sbin/Orthanc")
PYTHON_PLUGIN = Path("/usr/lib/orthanc/libOrthancPython.so.4.0")
REPO_ROOT = Path(__file__).resolve().parent.parent
# The plugin script imports our packages from the source tree; an editable install's .pth hook is not run for
# PYTHONPATH entries, so the source roots are put on PYTHONPATH themselves.
SOURCE_ROOTS = (REPO_ROOT / "web", REPO_ROOT / "plugin")

# How orthanc-python 4.0 reports an exception that escaped a callback or the script ("Error in the REST callback,
# traceback:", "Error in the Python on-change callback, traceback:", "Error during the installation of the
# Python script, traceback:"; strings in libOrthancPython.so.4.0). Notes §4 only mention "Error in the Python",
# which misses REST callbacks.
_PLUGIN_ERROR_MARKERS = ("traceback:", "Error in the Python")
_TRACEBACK_START = "Traceback (most recent call last)"
# glog prefix Orthanc puts before its own log lines, e.g. "E1123 19:00:00.123456 PluginsManager.cpp:153] ".
_GLOG_PREFIX = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ +[^\]]*\] ?")

T = TypeVar("T")


def orthanc_rem_section(
    work: Path, database_url: str | None = None, *, workers: int = 2, **more: Any
) -> dict[str, Any]:
    """The ``OrthancRem`` section of a test Orthanc's configuration: the dose database (SQLite in
    ``work`` unless one is given), the huey queue and the data folder (the workers' log) in
    ``work``, and ``workers`` worker processes run by this interpreter. ``more`` adds or overrides
    settings (``OrthancAuthorization``, ``StableAge``...)."""
    return {
        "Database": database_url or f"sqlite:///{work / 'rem.sqlite'}",
        "Queue": f"sqlite:///{work / 'queue.sqlite'}",
        "DataDirectory": str(work / "rem-data"),
        "Workers": workers,
        "WorkerPython": sys.executable,
        **more,
    }


def missing_prerequisites() -> str | None:
    """Why the real-Orthanc tests cannot run here, or None when they can (Debian 12 packages installed)."""
    if not ORTHANC_BINARY.exists():
        return f"{ORTHANC_BINARY} not found (apt-get install orthanc)"
    if not PYTHON_PLUGIN.exists():
        return f"{PYTHON_PLUGIN} not found (apt-get install orthanc-python)"
    return None


requires_orthanc = pytest.mark.skipif(
    missing_prerequisites() is not None,
    reason=f"real Orthanc not available: {missing_prerequisites()}",
)


def free_ports(count: int) -> list[int]:
    """Loopback ports the kernel just handed out (bind to port 0); held together so they are distinct."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def venv_python_path(*extra: Path) -> str:
    """PYTHONPATH for the embedded interpreter: this venv's site-packages plus our source roots.

    orthanc-python 4.0 embeds /usr/bin/python3.11 and honours PYTHONPATH (notes §1.2), so Flask and friends
    come from the same venv the tests run in.
    """
    paths = sysconfig.get_paths()
    entries = [paths["purelib"], paths["platlib"], *map(str, SOURCE_ROOTS), *map(str, extra)]
    return os.pathsep.join(dict.fromkeys(entries))


class OrthancProcess:
    """One Orthanc server on free loopback ports with its own storage, config and log in ``workdir``.

    ``config`` is merged over the defaults with a shallow ``dict.update`` (a key given here replaces the
    default, e.g. ``"Plugins"``). The Python plugin is loaded when ``python_script`` or ``python_source`` is
    given; the script file is never called ``orthanc.py`` (it would shadow the module, notes §1.2).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        name: str = "orthanc-rem-test",
        aet: str = "REMTEST",
        python_script: Path | None = None,
        python_source: str | None = None,
        config: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        python_path: Sequence[Path] = (),
        verbose: bool = False,
        startup_timeout: float = 30.0,
    ) -> None:
        if python_script is not None and python_source is not None:
            raise ValueError("give python_script or python_source, not both")
        self.workdir = Path(workdir)
        self.name = name
        self.aet = aet
        self.http_port, self.dicom_port = free_ports(2)
        self.config_path = self.workdir / "orthanc.json"
        self.log_path = self.workdir / "orthanc.log"
        self.startup_timeout = startup_timeout
        self._verbose = verbose
        self._python_path = tuple(python_path)
        self._extra_env = dict(env or {})
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None

        if python_source is not None:
            python_script = self.workdir / "rem_test_plugin.py"
            self.workdir.mkdir(parents=True, exist_ok=True)
            python_script.write_text(python_source, encoding="utf-8")
        if python_script is not None and python_script.name == "orthanc.py":
            raise ValueError("a plugin script named orthanc.py shadows the orthanc module")
        self.python_script = python_script

        self.config: dict[str, Any] = self._default_config()
        self.config.update(config or {})
        # The dose browser's "admin" (our plugin makes it from ORTHANC_REM_ADMIN_PASSWORD, as under
        # scripts/serve, where it is also Orthanc's "admin"): tests fetch /rem with it.
        orthanc_users = self.config.get("RegisteredUsers") or {}
        self.dose_browser_password = (
            self._extra_env.get("ORTHANC_REM_ADMIN_PASSWORD")
            or orthanc_users.get("admin")
            or "dose-browser-" + os.urandom(8).hex()
        )
        self._extra_env.setdefault("ORTHANC_REM_ADMIN_PASSWORD", self.dose_browser_password)

    def _default_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "Name": self.name,
            "DicomAet": self.aet,
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "StorageDirectory": str(self.workdir / "storage"),
            "IndexDirectory": str(self.workdir / "index"),
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "Plugins": [],
        }
        if self.python_script is not None:
            config["Plugins"] = [str(PYTHON_PLUGIN)]
            config["PythonScript"] = str(self.python_script)
        return config

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Write the config, launch Orthanc and wait until ``/system`` answers (plugins are loaded by then)."""
        if self._process is not None:
            raise RuntimeError("already started")
        reason = missing_prerequisites()
        if reason:
            raise RuntimeError(reason)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(self.config, indent=2), encoding="utf-8")
        env = dict(os.environ)
        # DCMTK inside Orthanc reads TCP_NODELAY: ~7x faster C-STORE on loopback (notes §8).
        env["TCP_NODELAY"] = "1"
        env["PYTHONPATH"] = venv_python_path(*self._python_path)
        env.update(self._extra_env)
        command = [str(ORTHANC_BINARY), str(self.config_path)]
        if self._verbose:
            command.append("--verbose")
        self._log_file = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            command, cwd=self.workdir, env=env, stdout=self._log_file, stderr=subprocess.STDOUT
        )
        try:
            self.wait_until(self._answers_system, self.startup_timeout, message="Orthanc did not start")
        except BaseException:
            self.stop()
            raise
        return self

    def _answers_system(self) -> bool:
        assert self._process is not None
        # A plugin script that fails to import makes 1.10.1 exit with code 255 (measured).
        if self._process.poll() is not None:
            raise RuntimeError(f"Orthanc exited with code {self._process.returncode} during startup\n{self.log_tail()}")
        try:
            self.get_json("/system", timeout=2)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False
        return True

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait; a process still alive after ``timeout`` is killed and reported as a hang."""
        process, self._process = self._process, None
        if process is None:
            return None
        hung = False
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                hung = True
                process.kill()
                process.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if hung:
            raise RuntimeError(
                f"Orthanc did not stop within {timeout} s (non-daemon Python thread?)\n{self.log_tail()}"
            )
        return process.returncode

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- talking to it -------------------------------------------------------------------------------------

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"

    def _credentials(self) -> tuple[str, str] | None:
        users = self.config.get("RegisteredUsers") or {}
        # Also with Orthanc's authentication off: our plugin then checks these accounts itself.
        if users:
            user, password = next(iter(users.items()))
            return user, password
        return None

    @property
    def dose_browser_prefix(self) -> str:
        return "/" + str((self.config.get("OrthancRem") or {}).get("UrlPrefix") or "rem").strip("/")

    def is_dose_browser(self, path: str) -> bool:
        prefix = self.dose_browser_prefix
        return path == prefix or path.startswith((prefix + "/", prefix + "?"))

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> bytes:
        """Call Orthanc's REST API as the first registered user (if authentication is on).

        The dose browser's API (``/rem/...``) is called as its ``admin`` with HTTP Basic, unless
        Orthanc itself wants an account (then Orthanc's first user, which is also ours when it
        is ``admin``, as under scripts/serve). Its pages need a login: :meth:`log_in`.
        """
        request = urllib.request.Request(self.url(path), data=body, method=method, headers=dict(headers or {}))
        credentials = self._credentials()
        if credentials is None and self.is_dose_browser(path):
            credentials = ("admin", self.dose_browser_password)
        if credentials:
            token = base64.b64encode(":".join(credentials).encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()

    def log_in(self, name: str = "admin", password: str | None = None) -> str:
        """Log in to the dose browser's login page; the ``Cookie`` header value of the session."""
        prefix = self.dose_browser_prefix
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        credentials = self._credentials()
        if credentials is not None:  # Orthanc's own authentication is on: it wants its account first
            token = base64.b64encode(":".join(credentials).encode()).decode()
            opener.addheaders.append(("Authorization", f"Basic {token}"))
        page = opener.open(self.url(prefix + "/login"), timeout=30).read().decode()
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, page
        form = urllib.parse.urlencode(
            {"name": name, "password": password or self.dose_browser_password, "csrf_token": match.group(1)}
        ).encode()
        opener.open(urllib.request.Request(self.url(prefix + "/login"), data=form, method="POST"), timeout=30)
        jar = next(h for h in opener.handlers if isinstance(h, urllib.request.HTTPCookieProcessor)).cookiejar
        cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)
        assert "rem_session=" in cookies, "login failed"
        return cookies

    def dose_browser_headers(self, name: str = "admin", password: str | None = None) -> dict[str, str]:
        """Headers of a logged-in dose-browser user's requests: the session cookie and the session's
        CSRF token, as the pages' own scripts send them (our pages take no Basic credentials)."""
        cookie = self.log_in(name, password)
        page = self.request("GET", self.dose_browser_prefix + "/password", None, {"Cookie": cookie}).decode()
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, page
        return {"Cookie": cookie, "X-CSRF-Token": match.group(1)}

    def get_json(self, path: str, timeout: float = 30.0) -> Any:
        return json.loads(self.request("GET", path, timeout=timeout))

    def post_json(self, path: str, payload: Any, timeout: float = 30.0) -> Any:
        body = json.dumps(payload).encode()
        return json.loads(self.request("POST", path, body, {"Content-Type": "application/json"}, timeout))

    def wait_until(
        self,
        predicate: Callable[[], T],
        timeout: float,
        interval: float = 0.1,
        message: str = "condition not met",
    ) -> T:
        """Poll ``predicate`` until it returns something truthy; asynchronous effects (STABLE_STUDY, jobs)."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{message} within {timeout} s\n{self.log_tail()}")
            time.sleep(interval)

    # -- the log -------------------------------------------------------------------------------------------

    @property
    def log(self) -> str:
        if self._log_file is not None:
            self._log_file.flush()
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        tail = "\n".join(self.log.splitlines()[-lines:])
        return f"----- last {lines} lines of {self.log_path} -----\n{tail}"

    def python_errors(self, expected: Iterable[str] = ()) -> list[str]:
        """Python failures in the log, minus those whose exception message contains an ``expected`` marker.

        Two shapes exist: orthanc-python's own reports of an exception that escaped a callback (an error line
        ending in "traceback:", then "<class 'X'>", the message, a blank line and the stack; measured on 4.0),
        and tracebacks printed to stderr by ``logging`` (e.g. Flask's "Exception on ...").
        """
        expected = tuple(expected)
        lines = self.log.splitlines()
        problems = []
        for index, line in enumerate(lines):
            if _GLOG_PREFIX.match(line) and any(marker in line for marker in _PLUGIN_ERROR_MARKERS):
                summary, report = _plugin_report(lines, index)
            elif line.startswith(_TRACEBACK_START):
                summary, report = _python_traceback(lines, index)
            else:
                continue
            if not any(marker in summary for marker in expected):
                problems.append(report)
        return problems


def _plugin_report(lines: list[str], start: int) -> tuple[str, str]:
    """The error line plus its class and message (up to the blank line), and the whole report."""
    end = start + 1
    while end < len(lines) and not _GLOG_PREFIX.match(lines[end]) and lines[end].strip():
        end += 1
    summary = "\n".join(lines[start:end])
    while end < len(lines) and not _GLOG_PREFIX.match(lines[end]) and not lines[end].startswith(_TRACEBACK_START):
        end += 1
    return summary, "\n".join(lines[start:end])


def _python_traceback(lines: list[str], start: int) -> tuple[str, str]:
    """The exception line (first unindented line after "Traceback ...") and the whole traceback."""
    end = start + 1
    while end < len(lines) and (not lines[end] or lines[end][0].isspace()):
        end += 1
    summary = lines[end] if end < len(lines) else ""
    return summary, "\n".join(lines[start : end + 1])


@contextlib.contextmanager
def running_orthanc(workdir: Path, *, expected_errors: Iterable[str] = (), **options: Any) -> Iterator[OrthancProcess]:
    """Start an :class:`OrthancProcess`, yield it, stop it and fail on a hang or unexpected Python errors."""
    if missing_prerequisites():
        pytest.skip(f"real Orthanc not available: {missing_prerequisites()}")
    process = OrthancProcess(workdir, **options)
    process.start()
    try:
        yield process
    finally:
        try:
            process.stop()
        finally:
            print(process.log_tail(), file=sys.stdout)
    errors = process.python_errors(expected_errors)
    if errors:
        pytest.fail("Python errors in the Orthanc log:\n" + "\n\n".join(errors), pytrace=False)


def storescu(port: int, aet: str, files: list[Path]) -> None:
    if shutil.which("storescu") is None:
        pytest.fail("dcmtk's storescu is missing: scripts/bootstrap installs dcmtk")
    subprocess.run(
        ["storescu", "-aec", aet, "-aet", "MODALITY", "127.0.0.1", str(port), *map(str, files)],
        check=True,
        capture_output=True,
        timeout=120,
    )
