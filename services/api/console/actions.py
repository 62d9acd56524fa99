"""The console's other forms, each one command of the API: a goal's progress, a referral and
the certification of a PIRL file (the stage transition's form is stage_form.py). One template
draws them (command_form.html); on refusal the form comes back with the rule's message and what
was entered."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.response import Template

from domain import clock
from domain.exports import CERTIFICATION_STATEMENT as STATEMENT
from services.api.console.backend import Refusal, read
from services.api.console.checks import FormCheck, as_sentence
from services.api.console.erased import not_erased
from services.api.console.pages import grantee_zone, optional, page
from services.api.console.reports import may_open, standing
from services.api.console.session import PATH, Staff, signed_in, take_carried
from services.api.console.submit import Refused, done, submit
from services.reports.quarterly import Quarter


@dataclass
class Field:
    name: str
    label: str
    kind: str = "text"  # text, textarea, number, select, datetime, date, checkbox(es), file
    # A select's choices; a text field's suggestions (a datalist), which it need not take.
    options: list[tuple[str, str]] = field(default_factory=list)
    help: str = ""
    required: bool = False
    bounds: tuple[int, int] = (0, 100)  # a number box's least and greatest value
    # A select's options shown, not chosen: disabled, in a group of their own, each label
    # saying why (the mentors a rule refuses for this participant, decision 112).
    unavailable: list[tuple[str, str]] = field(default_factory=list)
    unavailable_label: str = ""
    # A search box's label, drawn with a checkbox group or a select whose options are found
    # (the participants to choose from): its "Find" button draws the form again with the
    # options found, keeping what was entered; its value is the form's `find`.
    search: str = ""
    # A file box's `accept`: the kinds of file the picker offers first (the API still checks).
    accept: str = ""
    # The most characters the API takes for the field (its `maxLength`): the box takes no
    # more, so that a long text is cut while it is typed, not refused after. Every text area
    # says it.
    maxlength: int = 0

    def __post_init__(self) -> None:
        if self.kind == "textarea" and self.maxlength <= 0:
            raise ValueError(f"the text area {self.name} needs the API's maxlength")


# The API's limits for free text (services/api: `Short`, `Text`, `LongText`), in characters.
SHORT_TEXT = 500
TEXT = 2000
LONG_TEXT = 4000


def check_filled(check: FormCheck, fields: list[Field], values: dict[str, str]) -> None:
    """Each required text box left empty and each required choice not made, said next to its
    field, all in one round with the form's other readings (a date's is `FormCheck.day`)."""
    for f in fields:
        if not f.required or values.get(f.name):
            continue
        if f.kind == "select":
            check.problem(f.name, f"{f.label}: choose one of the options")
        elif f.kind in ("text", "textarea"):
            check.problem(f.name, f"{f.label}: fill this in")


PROGRESS = [
    Field("note", "What changed", "textarea", maxlength=TEXT, required=True),
    Field(
        "evidence",
        "Evidence",
        help="How you know: a document seen, a call made.",
        required=True,
        maxlength=TEXT,
    ),
    Field("percent", "Percent done (optional)", "number"),
]
# Which field each of progress's documented rule refusals is about.
PROGRESS_RULES = {"invalid_percent": "percent"}
CHOOSE = ("", "Choose one")
# The notice after a form of this module is recorded.
RECORDED = "Recorded."
KINDS = {"bop_institution": "a BOP institution", "rrc": "an RRC"}


def labels_of(fields: list[Field]) -> dict[str, str]:
    """The form's labels by field name: the API's body uses the same names."""
    return {f.name: f.label for f in fields}


def _label(fields: list[Field], name: str) -> str:
    return labels_of(fields)[name]


def render_form(
    request: Request[Any, Any, Any],
    staff: Staff,
    *,
    heading: str,
    action: str,
    back: str,
    fields: list[Field],
    values: dict[str, Any],
    error: str = "",
    status: int = 200,
    title: str = "",
    errs: dict[str, str] | None = None,
    intro: str = "",
    submit: str = "",
    template_name: str = "command_form.html",
    **about: Any,
) -> Template:
    carried = take_carried(request, action)
    if carried:
        # A form sent after its session ended, given back to the same person to send again
        # (decision 144): what they typed, its idempotency key, and why it is here.
        sent = dict(carried.fields)
        values = {**values, **{f.name: sent.get(f.name, "") for f in fields}}
        values["idempotency_key"] = sent.get("idempotency_key") or values.get("idempotency_key")
        error = carried.notice()
    template = page(
        request,
        staff,
        template_name,
        # The heading may quote a goal; the title never carries personal words.
        title=title or (heading if heading.startswith(("Record", "Make")) else "Goal progress"),
        heading=heading,
        action=action,
        back=back,
        fields=fields,
        v=values,
        error=error,
        errs=errs or {},
        intro=intro,
        submit=submit,
        **about,
    )
    template.status_code = status
    return template


async def read_form(request: Request[Any, Any, Any], fields: list[Field]) -> dict[str, str]:
    form = await request.form()
    values = {f.name: str(form.get(f.name, "")).strip() for f in fields}
    values["idempotency_key"] = str(form.get("idempotency_key", "")) or uuid.uuid4().hex
    return values


@get(f"{PATH}/goals/{{goal_id:uuid}}/progress")
async def progress_form(request: Request[Any, Any, Any], goal_id: UUID) -> Template:
    """Record progress on a SMART goal."""
    staff = signed_in(request)
    goal = await read(request, staff, f"/goals/{goal_id}")
    return render_form(
        request,
        staff,
        heading=f"Progress on: {goal['statement']}",
        action=f"{PATH}/goals/{goal_id}/progress",
        back=f"{PATH}/participants/{goal['participant_id']}",
        fields=PROGRESS,
        values={"idempotency_key": uuid.uuid4().hex},
    )


@post(f"{PATH}/goals/{{goal_id:uuid}}/progress")
async def record_progress(request: Request[Any, Any, Any], goal_id: UUID) -> Response[Any]:
    staff = signed_in(request)
    goal = await read(request, staff, f"/goals/{goal_id}")
    values = await read_form(request, PROGRESS)
    body: dict[str, Any] = {"note": values["note"], "evidence": values["evidence"]}
    check = FormCheck()
    check_filled(check, PROGRESS, values)
    percent = check.whole_number(
        _label(PROGRESS, "percent"), values["percent"], required=False, name="percent"
    )
    if percent is not None:
        body["percent"] = percent  # its range is the API's rule
    back = f"{PATH}/participants/{goal['participant_id']}"
    sent = await submit(
        request,
        staff,
        check,
        f"/goals/{goal_id}/progress",
        body,
        values["idempotency_key"],
        labels_of(PROGRESS),
        PROGRESS_RULES,
    )
    if isinstance(sent, Refused):
        return render_form(
            request,
            staff,
            heading=f"Progress on: {goal['statement']}",
            action=f"{PATH}/goals/{goal_id}/progress",
            back=back,
            fields=PROGRESS,
            values=values,
            **sent.shown,
        )
    return done(request, sent, RECORDED, back)


async def _referral_fields(request: Request[Any, Any, Any], staff: Staff) -> list[Field]:
    found = await optional(request, staff, "/resources", limit=200)
    options = [
        (str(r["id"]), str(r["name"]))
        for r in (found or {}).get("items", [])
        if not r.get("withdrawn")
    ]
    return [
        Field("resource_id", "Resource", "select", options, required=True),
        Field("need", "The need", "textarea", maxlength=LONG_TEXT, required=True),
    ]


@get(f"{PATH}/participants/{{participant_id:uuid}}/referral")
async def referral_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """Refer the participant to a resource of the grantee's directory."""
    staff = signed_in(request)
    await not_erased(request, staff, participant_id)
    return render_form(
        request,
        staff,
        heading="Make a referral",
        action=f"{PATH}/participants/{participant_id}/referral",
        back=f"{PATH}/participants/{participant_id}",
        fields=await _referral_fields(request, staff),
        values={"idempotency_key": uuid.uuid4().hex},
    )


@post(f"{PATH}/participants/{{participant_id:uuid}}/referral")
async def make_referral(request: Request[Any, Any, Any], participant_id: UUID) -> Response[Any]:
    staff = signed_in(request)
    fields = await _referral_fields(request, staff)
    values = await read_form(request, fields)
    body = {
        "participant_id": str(participant_id),
        "resource_id": values["resource_id"],
        "need": values["need"],
    }
    back = f"{PATH}/participants/{participant_id}"
    sent = await submit(
        request,
        staff,
        FormCheck(),
        "/referrals",
        body,
        values["idempotency_key"],
        labels_of(fields),
    )
    if isinstance(sent, Refused):
        return render_form(
            request,
            staff,
            heading="Make a referral",
            action=f"{PATH}/participants/{participant_id}/referral",
            back=back,
            fields=fields,
            values=values,
            **sent.shown,
        )
    return done(request, sent, RECORDED, back)


CERTIFY = [
    Field("signer_name", "Your name, as you sign", required=True),
    Field("signer_title", "Your title", required=True),
    Field(
        "statement",
        "What you certify",
        "textarea",
        maxlength=TEXT,
        required=True,
        help='A sentence of at least 40 characters in which you certify: "I certify that …"'
        ' or "We hereby certify that …", with no "not", "cannot" or "unable to" before'
        " certify. Recorded with your name, the time and the file's SHA-256; once per file.",
    ),
]


async def _export(request: Request[Any, Any, Any], staff: Staff, export_id: UUID) -> Any:
    return await read(request, staff, f"/exports/{export_id}")


def _beside(refused: Refusal) -> dict[str, str]:
    """A refused certification beside the field it is about: the register's rule names the
    field first ("statement denies …"), the API's validation by the body path."""
    labels = labels_of(CERTIFY)
    if refused.code != "invalid_certification":
        return refused.fields(labels)
    named = refused.problem_detail.split(" ", 1)[0]
    return {named if named in labels else "statement": as_sentence(refused.problem_detail)}


def _certify_heading(export: Any) -> str:
    return f"Record your certification of the {export['quarter']} PIRL file"


async def _about(request: Request[Any, Any, Any], staff: Staff, export: Any) -> dict[str, Any]:
    """What the certify page shows of the file: its quarter (and whether it has ended in the
    grantee's zone), its SHA-256, rows and time, and who certified it already, if anyone."""
    quarter = Quarter.parse(export["quarter"])
    today = clock.today(await grantee_zone(request, staff))
    return {"export": export, "period": quarter, "standing": standing(quarter, today)}


@get(f"{PATH}/exports/{{export_id:uuid}}/certify")
async def certify_form(request: Request[Any, Any, Any], export_id: UUID) -> Template:
    """Certify a recorded PIRL file as the grantee's submission (the coordinator): the file's
    SHA-256, rows and time above the form; a file certified already says by whom and when."""
    staff = signed_in(request)
    may_open(staff, "exports.certify", "the page that certifies a PIRL file")
    export = await _export(request, staff, export_id)
    return render_form(
        request,
        staff,
        heading=_certify_heading(export),
        action=f"{PATH}/exports/{export_id}/certify",
        back=f"{PATH}/reports?quarter={export['quarter']}",
        fields=CERTIFY,
        values={
            # The title is the official's to write: none is put in their signature for them.
            "idempotency_key": uuid.uuid4().hex,
            "statement": STATEMENT,
        },
        template_name="certify.html",
        **await _about(request, staff, export),
    )


@post(f"{PATH}/exports/{{export_id:uuid}}/certify")
async def certify(request: Request[Any, Any, Any], export_id: UUID) -> Response[Any]:
    staff = signed_in(request)
    may_open(staff, "exports.certify", "the page that certifies a PIRL file")
    export = await _export(request, staff, export_id)
    values = await read_form(request, CERTIFY)
    back = f"{PATH}/reports?quarter={export['quarter']}"
    body = {k: values[k] for k in ("signer_name", "signer_title", "statement")}
    sent = await submit(
        request,
        staff,
        FormCheck(),
        f"/exports/{export_id}/certification",
        body,
        values["idempotency_key"],
        labels_of(CERTIFY),
        field_errors=_beside,
    )
    if isinstance(sent, Refused):
        return render_form(
            request,
            staff,
            heading=_certify_heading(export),
            action=f"{PATH}/exports/{export_id}/certify",
            back=back,
            fields=CERTIFY,
            values=values,
            template_name="certify.html",
            **sent.shown,
            **await _about(request, staff, await _export(request, staff, export_id)),
        )
    return done(request, sent, RECORDED, back)


ROUTES = [
    progress_form,
    record_progress,
    referral_form,
    make_referral,
    certify_form,
    certify,
]
