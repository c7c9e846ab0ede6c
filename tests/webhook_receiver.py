"""A webhook on 127.0.0.1 that records what apprise posts: the edge of the world for the alert tests and
the alert benchmark (the receiver a user would point TB_ALERT_URLS at)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """A webhook on 127.0.0.1 recording every JSON body apprise posts; can be down and come back."""

    def __init__(self, port: int):
        self.port = port
        self.received: list[dict] = []
        self._server: ThreadingHTTPServer | None = None

    TOKEN = "s3cr3tT0kenXYZ"  # a URL's credentials: must never reach a log, Redis or the journal

    @property
    def url(self) -> str:
        return f"json://alerts:{self.TOKEN}@127.0.0.1:{self.port}/hook"

    def up(self) -> "Receiver":
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append(json.loads(body or b"{}"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def kinds(self) -> list[str]:
        """The alert kind of each message, from its title `[bot mode] kind words`."""
        return [m["title"].split("] ", 1)[1].split(":")[0].replace(" ", "_") for m in self.received]
