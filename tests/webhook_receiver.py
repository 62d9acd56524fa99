"""A real HTTP receiver on 127.0.0.1 for the webhook tests and the benchmark.

Every request is verified with the official `standardwebhooks` library against the secret(s)
the receiver was told to trust (a message verifies if any of them matches); unverified
requests are answered 400 and kept aside. The receiver can be stopped and started again on the
same port (a receiver that is down refuses connections), told to answer another status (410,
429 with Retry-After, 503), or to hold a request for a while.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    msg_id: str
    timestamp: str
    signature: str
    body: bytes
    path: str
    at: float
    verified_with: list[int] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self, secrets: list[str] | None = None, port: int = 0) -> None:
        self.secrets: list[str] = list(secrets or [])
        self.lock = threading.Lock()
        self.accepted: list[Received] = []
        self.rejected: list[Received] = []
        self.status = 200
        self.headers: dict[str, str] = {}
        self.response_body = b"ok"
        self.hold: float = 0.0
        self.hold_release = threading.Event()
        self.in_flight = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = port
        self.down = False
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> None:
        receiver = self
        self.down = False

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if receiver.down:
                    # Down: the connection drops without an answer.
                    self.close_connection = True
                    return
                item = Received(
                    self.headers.get("webhook-id", ""),
                    self.headers.get("webhook-timestamp", ""),
                    self.headers.get("webhook-signature", ""),
                    body,
                    self.path,
                    time.time(),
                )
                headers = {k: v for k, v in self.headers.items()}
                item.headers = {k.lower(): v for k, v in headers.items()}
                for i, secret in enumerate(list(receiver.secrets)):
                    try:
                        Webhook(secret).verify(body, headers)
                        item.verified_with.append(i)
                    except WebhookVerificationError:
                        pass
                if not item.verified_with:
                    with receiver.lock:
                        receiver.rejected.append(item)
                    self._answer(400, b"signature rejected", {})
                    return
                if receiver.hold:
                    receiver.in_flight.set()
                    receiver.hold_release.wait(receiver.hold)
                with receiver.lock:
                    status, extra, text = (
                        receiver.status,
                        dict(receiver.headers),
                        receiver.response_body,
                    )
                    if 200 <= status < 300:
                        receiver.accepted.append(item)
                self._answer(status, text, extra)

            def _answer(self, status: int, text: bytes, extra: dict[str, str]) -> None:
                try:
                    self.send_response(status)
                    for k, v in extra.items():
                        self.send_header(k, v)
                    self.send_header("content-length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                except OSError:
                    pass

        ThreadingHTTPServer.allow_reuse_address = True
        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Down: the port refuses connections until `start()`."""
        self.down = True
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ids(self) -> list[str]:
        with self.lock:
            return [r.msg_id for r in self.accepted]

    def payloads(self) -> list[Any]:
        with self.lock:
            return [r.payload for r in self.accepted]


def main() -> None:
    """`python -m tests.webhook_receiver SECRETS_FILE OUT_FILE [PORT]`: serve until SIGTERM,
    printing the port first; then write what was received to OUT_FILE (JSON counts)."""
    import signal
    import sys

    secrets_file, out_file = sys.argv[1], sys.argv[2]
    with open(secrets_file) as f:
        secrets = [line.strip() for line in f if line.strip()]
    receiver = Receiver(secrets, port=int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    print(receiver.port, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    receiver.stop()
    ids = receiver.ids()
    with open(out_file, "w") as f:
        json.dump(
            {
                "received": len(ids),
                "distinct_webhook_ids": len(set(ids)),
                "rejected": len(receiver.rejected),
            },
            f,
        )


if __name__ == "__main__":
    main()
