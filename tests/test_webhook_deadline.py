"""The dispatcher's total time limit holds against a receiver that trickles its answer: httpx's
per-operation timeouts alone would wait for as long as bytes keep coming."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from services.webhooks.deadline import DeadlineTransport, deadline


@pytest.fixture
def trickler():
    """A receiver on 127.0.0.1 that answers one header byte every 0.2 s, for up to 10 s."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            for _ in range(50):
                if stop.is_set():
                    return
                try:
                    conn.sendall(b"X")
                except OSError:
                    return
                time.sleep(0.2)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    stop.set()
    server.close()
    thread.join(timeout=5)


def test_a_trickling_receiver_is_cut_at_the_total_deadline(trickler):
    limits = httpx.Limits(max_connections=2)
    with httpx.Client(
        timeout=httpx.Timeout(15.0, connect=5.0),
        transport=DeadlineTransport(limits=limits),
        trust_env=False,
    ) as client:
        started = time.monotonic()
        with deadline(1.0), pytest.raises(httpx.TimeoutException):
            client.post(trickler, content=b"{}")
        took = time.monotonic() - started
    # Each byte arrives well within the 15 s read timeout: only the total limit stops it.
    assert 0.9 <= took < 2.0, took


def test_without_a_deadline_requests_are_unchanged(trickler):
    """Outside `deadline()` the transport behaves as httpx's own (per-operation limits)."""
    # The trickle's 0.2 s gaps exceed a 0.1 s read timeout.
    with (
        httpx.Client(
            timeout=httpx.Timeout(0.1, connect=5.0),
            transport=DeadlineTransport(limits=httpx.Limits()),
            trust_env=False,
        ) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.post(trickler, content=b"{}")
