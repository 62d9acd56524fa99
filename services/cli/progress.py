"""The progress bar of the long commands (rebuild, replay, verify)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """A progress bar on stderr: events done/total, events/s and the time left.

    Redrawn at most every 0.2 s, and only when stderr is a terminal; `finish` always prints
    one summary line (the only output when stderr is a file or a pipe).
    """

    def __init__(self, label: str, *, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self.drawn = 0.0
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        self.done = done
        now = time.monotonic()
        if not self.tty or (now - self.drawn < 0.2 and done < total):
            return
        self.drawn = now
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        width = 30
        filled = width if total <= 0 else min(width, width * done // total)
        left = f"{max(total - done, 0) / rate:.0f} s left" if rate > 0 and total else "-"
        self.stream.write(
            f"\r{self.label}: [{'#' * filled}{'.' * (width - filled)}] {done}/{total} events,"
            f" {rate:,.0f} events/s, {left}\033[K"
        )
        self.stream.flush()

    def add(self, done: int) -> None:
        """Count `done` more events (a grantee finished) without redrawing."""
        self.done += done

    def finish(self, done: int) -> None:
        """Print the summary line: events, seconds and events/s since the bar was made."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        self.stream.write(
            ("\r" if self.tty else "")
            + f"{self.label}: {done} events in {elapsed:.1f} s ({done / elapsed:.0f} events/s)"
            + ("\033[K\n" if self.tty else "\n")
        )
        self.stream.flush()
