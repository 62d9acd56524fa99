"""The receiver code of docs/webhooks.md ("Receivers: Python and Node") runs as written, with
the Standard Webhooks libraries, on messages signed by the platform's own signer: in order, out
of order, a duplicate, a ping, a gap, and a tampered body.

The Node receiver needs Node and the `standardwebhooks` package pinned in
tools/webhook-receiver-node (installed there by `npm ci`; the test runs offline)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from domain import clock
from services.webhooks import signing
from services.webhooks.batch import envelope

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "webhooks.md"
NODE_PACKAGES = ROOT / "tools" / "webhook-receiver-node"


def block(language: str) -> str:
    """The code block after `<!-- receiver:<language> -->` in docs/webhooks.md."""
    match = re.search(
        rf"<!-- receiver:{language} -->\n```\w+\n(.*?)\n```", DOC.read_text(), re.DOTALL
    )
    assert match is not None, f"no {language} receiver in docs/webhooks.md"
    return match.group(1)


SECRET = signing.new_secret()


def signed(n: int | None, msg_id: str | None = None, tamper: bool = False) -> dict[str, Any]:
    """A message as the dispatcher sends it: body, and the headers it signs and adds."""
    body = envelope(
        "ping" if n is None else "meeting.held",
        clock.now(),
        {"n": n},
        n,
    )
    msg_id = msg_id or f"msg_{os.urandom(16).hex()}"
    timestamp = int(clock.wall().timestamp())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature_header([SECRET], msg_id, timestamp, body),
    }
    if n is not None:
        headers["webhook-sequence"] = str(n)
    if tamper:
        body = body.replace(b'"n":', b'"n" :')
    return {"body": body.decode(), "headers": headers}


def script() -> list[dict[str, Any]]:
    first = signed(1)
    return [
        first,
        signed(None),  # a ping: handed on at once, outside the sequence
        signed(3),  # early: waits for 2
        signed(4),
        dict(first),  # the same webhook-id again: a duplicate
        signed(2),  # 2, 3 and 4 are ready, in order
        signed(6),  # 5 is missing: a gap
        signed(7, tamper=True),  # refused
    ]


EXPECTED = [
    [200, [1]],
    [200, [None]],
    [200, []],
    [200, []],
    [200, []],
    [200, [2, 3, 4]],
    [200, []],
    [400, []],
]


def test_the_python_receiver_of_the_docs():
    namespace: dict[str, Any] = {}
    exec(compile(block("python"), "docs/webhooks.md", "exec"), namespace)
    receiver = namespace["Receiver"](SECRET)
    outcomes = []
    for message in script():
        status, ready = receiver.receive(message["body"].encode(), message["headers"])
        outcomes.append([status, [m.get("sequence") for m in ready]])
    assert outcomes == EXPECTED
    assert receiver.gaps() == [5]


def test_the_node_receiver_of_the_docs(tmp_path: Path):
    node = shutil.which("node")
    library = NODE_PACKAGES / "node_modules" / "standardwebhooks"
    if node is None or not library.exists():
        if os.environ.get("CI"):
            pytest.fail(
                "Node or standardwebhooks missing: npm ci --prefix tools/webhook-receiver-node"
            )
        pytest.skip("npm ci --prefix tools/webhook-receiver-node to run the Node receiver")
    (tmp_path / "receiver.js").write_text(block("node"))
    (tmp_path / "drive.js").write_text(
        """
const { Receiver } = require("./receiver.js");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const receiver = new Receiver(input.secret);
const outcomes = input.messages.map((m) => {
  const [status, ready] = receiver.receive(m.body, m.headers);
  return [status, ready.map((r) => (r.sequence === undefined ? null : r.sequence))];
});
console.log(JSON.stringify({ outcomes, gaps: receiver.gaps() }));
"""
    )
    run = subprocess.run(
        [node, str(tmp_path / "drive.js")],
        input=json.dumps({"secret": SECRET, "messages": script()}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "NODE_PATH": str(NODE_PACKAGES / "node_modules")},
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["outcomes"] == EXPECTED
    assert result["gaps"] == [5]
