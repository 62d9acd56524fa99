"""An RRC system on 127.0.0.1 receiving the service's webhooks, in this process or its own.

In its own process (`python -m tests.perf.harness.receiver SECRETS OUT PORT`) the load
generator of a script does not slow it down: it prints its port, serves until SIGTERM, then
writes {"counts": {webhook-id: times received}, "rejected": n} to OUT. SECRETS holds one
`<path> <secret>` line per endpoint.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.perf.harness.results import ROOT


class _QuietServer(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection a killed dispatcher dropped half-way is expected here: not printed."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class HookReceiver:
    """Verifies every request with the `standardwebhooks` library against the secret of its
    path (`trust`), counts the verified ones by webhook-id and answers 200; an unverified one
    gets 400 and is counted apart, as is a body cut off by a killed sender. With
    `keep_bodies`, (webhook-id, body) of each verified request is kept too; without, only
    counters are, so its memory stays small however many deliveries arrive."""

    def __init__(self, port: int = 0, *, keep_bodies: bool = True) -> None:
        self.hooks: dict[str, Webhook] = {}
        self.keep_bodies = keep_bodies
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.bodies: list[tuple[str, bytes]] = []
        self.rejected = 0
        self.truncated = 0
        self.server = _QuietServer(("127.0.0.1", port), self._handler())
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "/hooks") -> str:
        """The URL of an endpoint at `path`."""
        return f"http://127.0.0.1:{self.port}{path}"

    def trust(self, secret: str, path: str = "/hooks") -> None:
        """Verify what arrives at `path` with `secret` (`whsec_…`)."""
        self.hooks[path] = Webhook(secret)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender died half-way through the body: nothing was delivered.
                    with receiver.lock:
                        receiver.truncated += 1
                    return
                msg_id = self.headers.get("webhook-id", "")
                ok = receiver.verify(self.path, body, dict(self.headers.items()))
                with receiver.lock:
                    if not ok:
                        receiver.rejected += 1
                    else:
                        receiver.counts[msg_id] += 1
                        if receiver.keep_bodies:
                            receiver.bodies.append((msg_id, body))
                text = b"ok" if ok else b"signature rejected"
                try:
                    self.send_response(200 if ok else 400)
                    self.send_header("content-length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                except OSError:
                    pass  # the dispatcher was killed before it read the answer

        return Handler

    def verify(self, path: str, body: bytes, headers: dict[str, str]) -> bool:
        """Whether the request carries a valid, fresh signature by the secret of its path."""
        hook = self.hooks.get(path)
        if hook is None:
            return False
        try:
            hook.verify(body, headers)
        except WebhookVerificationError:
            return False
        return True

    def snapshot(self) -> tuple[list[tuple[str, bytes]], int, int]:
        """(webhook-id, body) of every verified request so far, the rejected and the cut-off."""
        with self.lock:
            return list(self.bodies), self.rejected, self.truncated

    def close(self) -> None:
        """Stop listening."""
        self.server.shutdown()
        self.server.server_close()


class ReceiverProcess:
    """The receiver in a process of its own, trusting `endpoints` ((path, secret) pairs) on
    `port`; its files go to `folder`."""

    def __init__(self, endpoints: list[tuple[str, str]], folder: Path, port: int) -> None:
        secrets_file, self.out = folder / "secrets", folder / "received.json"
        secrets_file.write_text("".join(f"{path} {secret}\n" for path, secret in endpoints))
        self.proc: subprocess.Popen[str] | None = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.perf.harness.receiver",
                str(secrets_file),
                str(self.out),
                str(port),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.pid = self.proc.pid
        assert self.proc.stdout is not None
        if int(self.proc.stdout.readline()) != port:
            raise SystemExit("the receiver did not start on its port")

    def finish(self) -> dict[str, Any] | None:
        """Stop it; what it received ({"counts": {webhook-id: n}, "rejected": n}), if known."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)
            self.proc = None
        return dict(json.loads(self.out.read_text())) if self.out.exists() else None

    def kill(self) -> None:
        """Kill it, if it still runs (a run that failed half-way)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


def main(argv: list[str]) -> int:
    """Serve the endpoints of a secrets file until SIGTERM, then write the counts."""
    secrets_file, out_file, port = argv
    receiver = HookReceiver(int(port), keep_bodies=False)
    for line in Path(secrets_file).read_text().splitlines():
        if line:
            path, secret = line.split(" ", 1)
            receiver.trust(secret, path)
    print(receiver.port, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait(timeout=24 * 3600)
    receiver.close()
    with receiver.lock:
        result = {"counts": receiver.counts, "rejected": receiver.rejected}
        Path(out_file).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
