"""A stand-in for Orthanc's REST API over HTTP, for worker tests that need Orthanc to misbehave
(answer 401, serve a file) without starting Orthanc."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: path -> (status, body); a callable may decide per request.
Routes = dict[str, tuple[int, bytes]]


@contextlib.contextmanager
def fake_orthanc(routes: Routes | Callable[[str], tuple[int, bytes]]) -> Iterator[str]:
    """Serve ``routes`` on a free loopback port; yields the base URL. Unknown paths get 404."""

    def answer(path: str) -> tuple[int, bytes]:
        if callable(routes):
            return routes(path)
        return routes.get(path, (404, b"{}"))

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))  # a PUT's or POST's body
            status, body = answer(self.path)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_DELETE = _reply  # noqa: N815 - http.server's names

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
