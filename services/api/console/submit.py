"""The second half of every console form: send its command, or show it again in its own words.

A form's POST reads its fields (`read_form`), checks what reading them can check (`FormCheck`)
and builds the API's body; then `submit` either sends the command, or, when the console's own
reading found problems or the API refused, hands back what the form's page needs to show the
refusal: the sentence naming each field by its label, each field's own sentence beside it, and
the status. On success `done` tells the next page what happened and sends the browser there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.response import Redirect

from services.api.console.backend import Refusal, command
from services.api.console.checks import FormCheck
from services.api.console.session import Staff, tell


@dataclass(frozen=True)
class Sent:
    """The command was recorded: the API's answer and the log position it reached."""

    answer: Any
    position: int


@dataclass(frozen=True)
class Refused:
    """The form goes back to its page: `refusal` is why, `shown` the page's keyword arguments
    for it (`error`, `errs`, `status`; `render_form` takes them as they are)."""

    refusal: Refusal
    shown: dict[str, Any]


async def submit(
    request: Request[Any, Any, Any],
    staff: Staff,
    check: FormCheck,
    path: str,
    body: Any,
    key: str,
    labels: Mapping[str, str],
    rules: Mapping[str, str] | None = None,
    *,
    field_errors: Callable[[Refusal], dict[str, str]] | None = None,
    files: Mapping[str, tuple[str, bytes, str]] | None = None,
) -> Sent | Refused:
    """POST `body` to `path` with idempotency key `key` unless `check` found problems.
    A refusal's sentences are said with the form's `labels`; each goes beside its field by
    the API's body path or, for a rule's code, by `rules` (code -> field), unless
    `field_errors` places them itself. The console's own problems win over the API's. With
    `files` the command is a multipart upload, `body` its other fields."""
    try:
        if check.problems:
            raise Refusal(422, "invalid_form", check.text())
        answer, position = await command(request, staff, path, body, key, files)
    except Refusal as refused:
        placed = field_errors(refused) if field_errors else refused.fields(labels, rules)
        return Refused(
            refused,
            {
                "error": refused.words(labels),
                "errs": check.fields or placed,
                "status": refused.status,
            },
        )
    return Sent(answer, position)


def done(request: Request[Any, Any, Any], sent: Sent, notice: str, then: str) -> Redirect:
    """After a recorded command: the next page (`then`) waits for its log position and says
    `notice` once (POST, redirect, GET)."""
    tell(request, sent.position, notice)
    return Redirect(then, status_code=303)
