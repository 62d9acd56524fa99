"""A participant's details from the console, each form one command of the API: correct the
personal details (POST …/corrections), record the contact details (POST …/contact), record a
Part 2 consent (POST …/consents) and revoke one (POST …/consents/{id}/revoke).

The correction and contact forms show the values on record: that is the record, not a decision
made for anyone. A correction sends only the fields changed from the values shown (carried in
the form, so that a form sent twice is the same request and is recorded once) with its reason,
which is empty; the contact details are sent whole, as the API replaces them whole, and the form
says that a field left empty is cleared. The consent and revocation forms pre-fill nothing
(decision 108). Personal data travels in POST bodies only (decision 72); a refusal is a sentence
next to its field (decision 118).
"""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.response import Template

from domain.consents import CATEGORIES, Signer
from services.api.console.actions import CHOOSE, TEXT, Field, labels_of, read_form, render_form
from services.api.console.backend import Refusal, read, read_all
from services.api.console.checks import FormCheck
from services.api.console.erased import not_erased
from services.api.console.format import words
from services.api.console.pages import grantee_zone, optional_all
from services.api.console.roles import may
from services.api.console.session import PATH, Staff, signed_in
from services.api.console.submit import Refused, done, submit

REASON = Field(
    "reason",
    "Why it is corrected",
    "textarea",
    maxlength=TEXT,
    required=True,
    help="Recorded with the correction and shown with the history: for example, misspelt at"
    " intake, ID card seen.",
)
# Which field each of the correction's documented rule refusals is about.
CORRECT_RULES = {
    "nothing_to_correct": "first_name",
    "already_erased": "first_name",
    "missing_name": "first_name",
    "reason_required": "reason",
    "implausible_date_of_birth": "date_of_birth",
    "entry_before_cohort": "program_entry_date",
    "entry_after_later_dates": "program_entry_date",
    "in_future": "program_entry_date",
    "cohort_at_other_facility": "cohort",
    "cohort_graduated": "cohort",
    "facility_wrong_kind": "facility",
    "facility_not_allowed": "facility",
}
CONTACT = [
    Field("phone", "Phone", help="Such as +1 312 555 0142."),
    Field("email", "Email"),
    Field("address", "Address", help="On one line."),
    Field("projected_release_date", "Projected release date", "date"),
]
CONTACT_RULES = {
    "contact_empty": "phone",
    "nothing_to_correct": "phone",
    "already_erased": "phone",
    "release_before_entry": "projected_release_date",
}
CONTACT_INTRO = (
    "The details are recorded whole, as they now are: a field left empty is cleared. They are"
    " personal, kept encrypted, and shown to staff only."
)
CONSENT_RULES = {
    "unknown_information": "information",
    "invalid_recipient": "recipient",
    "unknown_recipient": "recipient",
    "representative_required": "representative",
    "representative_not_signer": "representative",
    "in_future": "signed_on",
    "expiry_required": "expires_on",
    "expiry_before_signature": "expires_on",
}
CONSENT_INTRO = (
    "A written consent under 42 CFR Part 2 (§2.31) to disclose the participant's Part 2"
    " information: enter what the signed form says. Every consent covers Part 2 information;"
    " it is in force from the signature day until it expires or is revoked."
)
REVOKE = [
    Field(
        "revoked_at",
        "When the revocation was received",
        "datetime",
        required=True,
        help="From this moment nothing is disclosed under the consent. Not in the future.",
    ),
    Field("note", "Note", help="How it was received: for example, written revocation."),
]
REVOKE_RULES = {
    "consent_revoked": "revoked_at",
    "in_future": "revoked_at",
    "revoked_before_signature": "revoked_at",
    "naive_datetime": "revoked_at",
    "too_long": "note",
}
SIGNERS = {Signer.PARTICIPANT: "The participant", Signer.REPRESENTATIVE: "A representative"}


def _back(participant_id: UUID | str) -> str:
    return f"{PATH}/participants/{participant_id}"


def _who(person: Any) -> str:
    return f"{person['first_name']} {person['last_name']} ({person['number']})"


async def _person(request: Request[Any, Any, Any], staff: Staff, participant_id: UUID) -> Any:
    return await read(request, staff, f"/participants/{participant_id}")


# Correct personal details ------------------------------------------------------------------


async def _correct_fields(
    request: Request[Any, Any, Any], staff: Staff, person: Any
) -> list[Field]:
    """The fields that may be corrected; the cohorts and facilities of the grantee, the
    participant's own always among them."""
    cohorts = (await optional_all(request, staff, "/cohorts") or {}).get("items", [])
    facilities = (await optional_all(request, staff, "/facilities") or {}).get("items", [])
    cohort_options = [(str(c["code"]), f"{c['code']} at {c['facility']}") for c in cohorts]
    if person["cohort"] not in {c for c, _ in cohort_options}:
        cohort_options.insert(0, (str(person["cohort"]), str(person["cohort"])))
    facility_options = [
        (str(f["code"]), f"{f['name']} ({f['code']}), {words(f['kind'])}") for f in facilities
    ]
    if not person.get("facility"):
        facility_options.insert(0, ("", "None"))
    elif person["facility"] not in {c for c, _ in facility_options}:
        facility_options.insert(0, (str(person["facility"]), str(person["facility"])))
    return [
        Field("first_name", "First name", required=True),
        Field("last_name", "Last name", required=True),
        Field("date_of_birth", "Date of birth", "date", required=True),
        Field(
            "bop_register_number",
            "BOP register number",
            help="As the Bureau of Prisons writes it, such as 12345-678; empty if not known.",
        ),
        Field("program_entry_date", "Date of program entry", "date", required=True),
        Field(
            "cohort",
            "Cohort",
            "select",
            cohort_options,
            required=True,
            help="Only if it was recorded wrongly; a move is a stage transition.",
        ),
        Field(
            "facility",
            "Facility of the current stage",
            "select",
            facility_options,
            help="Only if it was recorded wrongly; a move is a stage transition.",
        ),
        REASON,
    ]


CORRECTABLE = (
    "first_name",
    "last_name",
    "date_of_birth",
    "bop_register_number",
    "program_entry_date",
    "cohort",
    "facility",
)


def _on_record(person: Any) -> dict[str, str]:
    return {name: str(person.get(name) or "") for name in CORRECTABLE}


def _correct_page(
    request: Request[Any, Any, Any],
    staff: Staff,
    person: Any,
    fields: list[Field],
    values: dict[str, Any],
    shown: dict[str, str],
    **refused: Any,
) -> Template:
    return render_form(
        request,
        staff,
        title="Correct personal details",
        heading="Correct personal details",
        intro=f"Of {_who(person)}. The fields show the record as it is; change what was"
        " recorded wrongly and say why. Only the fields you change are corrected; the history"
        " keeps what was there before.",
        action=f"{PATH}/participants/{person['id']}/correct",
        back=_back(person["id"]),
        fields=fields,
        values=values,
        submit="Correct",
        hidden={f"was_{name}": value for name, value in shown.items()},
        **refused,
    )


@get(f"{PATH}/participants/{{participant_id:uuid}}/correct")
async def correct_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """Correct the participant's personal details, entry date or placement, with a reason."""
    staff = signed_in(request)
    may(staff, "participants.correct", "correct a participant's details")
    person = await not_erased(request, staff, participant_id)
    shown = _on_record(person)
    fields = await _correct_fields(request, staff, person)
    return _correct_page(
        request, staff, person, fields, {**shown, "idempotency_key": uuid.uuid4().hex}, shown
    )


@post(f"{PATH}/participants/{{participant_id:uuid}}/correct")
async def correct(request: Request[Any, Any, Any], participant_id: UUID) -> Response[Any]:
    """POST /participants/{id}/corrections with the fields changed from those shown."""
    staff = signed_in(request)
    may(staff, "participants.correct", "correct a participant's details")
    person = await _person(request, staff, participant_id)
    fields = await _correct_fields(request, staff, person)
    values = await read_form(request, fields)
    form = await request.form()
    shown = {name: str(form.get(f"was_{name}", "")).strip() for name in CORRECTABLE}
    labels = labels_of(fields)
    check = FormCheck()
    body: dict[str, Any] = {"reason": values["reason"]}
    for name in CORRECTABLE:
        if values[name] == shown[name]:
            continue
        if name in ("date_of_birth", "program_entry_date"):
            body[name] = check.day(labels[name], values[name], name)
        elif name == "bop_register_number":
            body[name] = values[name] or None
        else:
            body[name] = values[name]
    sent = await submit(
        request,
        staff,
        check,
        f"/participants/{participant_id}/corrections",
        body,
        values["idempotency_key"],
        labels,
        CORRECT_RULES,
    )
    if isinstance(sent, Refused):
        return _correct_page(request, staff, person, fields, values, shown, **sent.shown)
    changed = ", ".join(labels[n].lower() for n in CORRECTABLE if n in body)
    notice = f"Corrected for {_who(sent.answer)}: {changed}."
    return done(request, sent, notice, _back(participant_id))


# Contact details ---------------------------------------------------------------------------


def _contact_page(
    request: Request[Any, Any, Any],
    staff: Staff,
    person: Any,
    values: dict[str, Any],
    **refused: Any,
) -> Template:
    return render_form(
        request,
        staff,
        title="Contact details",
        heading="Contact details",
        intro=f"Of {_who(person)}. {CONTACT_INTRO}",
        action=f"{PATH}/participants/{person['id']}/contact-details",
        back=_back(person["id"]),
        fields=CONTACT,
        values=values,
        submit="Record the contact details",
        **refused,
    )


@get(f"{PATH}/participants/{{participant_id:uuid}}/contact-details")
async def contact_details_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """The participant's phone, email, address and projected release date, as on record."""
    staff = signed_in(request)
    may(staff, "participants.contact", "record a participant's contact details")
    person = await not_erased(request, staff, participant_id)
    contact = person.get("contact") or {}
    values = {
        "phone": contact.get("phone") or "",
        "email": contact.get("email") or "",
        "address": contact.get("address") or "",
        "projected_release_date": person.get("projected_release_date") or "",
        "idempotency_key": uuid.uuid4().hex,
    }
    return _contact_page(request, staff, person, values)


@post(f"{PATH}/participants/{{participant_id:uuid}}/contact-details")
async def record_contact_details(
    request: Request[Any, Any, Any], participant_id: UUID
) -> Response[Any]:
    """POST /participants/{id}/contact, the details whole (what is empty is cleared)."""
    staff = signed_in(request)
    may(staff, "participants.contact", "record a participant's contact details")
    values = await read_form(request, CONTACT)
    labels = labels_of(CONTACT)
    check = FormCheck()
    body: dict[str, Any] = {k: values[k] for k in ("phone", "email", "address") if values[k]}
    if values["projected_release_date"]:
        body["projected_release_date"] = check.day(
            labels["projected_release_date"],
            values["projected_release_date"],
            "projected_release_date",
        )
    sent = await submit(
        request,
        staff,
        check,
        f"/participants/{participant_id}/contact",
        body,
        values["idempotency_key"],
        labels,
        CONTACT_RULES,
    )
    if isinstance(sent, Refused):
        person = await _person(request, staff, participant_id)
        return _contact_page(request, staff, person, values, **sent.shown)
    cleared = [labels[f.name].lower() for f in CONTACT if not values[f.name]]
    notice = f"Contact details recorded for {_who(sent.answer)}."
    if cleared:
        notice += f" Cleared: {', '.join(cleared)}."
    return done(request, sent, notice, _back(participant_id))


# Consents ----------------------------------------------------------------------------------


async def _consent_fields(request: Request[Any, Any, Any], staff: Staff) -> list[Field]:
    """The consent form; its recipients the grantee's RRCs and the PIRL export."""
    facilities = (await optional_all(request, staff, "/facilities") or {}).get("items", [])
    recipients = [
        (f"rrc:{f['code']}", f"{f['name']} ({f['code']}), an RRC")
        for f in facilities
        if f["kind"] == "rrc"
    ]
    return [
        Field(
            "discloser",
            "Who may disclose",
            required=True,
            help="As the signed form names them: for example, the program's name.",
        ),
        Field(
            "information",
            "What information",
            "checkboxes",
            [(c, words(c).capitalize()) for c in CATEGORIES],
            required=True,
        ),
        Field(
            "recipient",
            "To whom",
            "select",
            [CHOOSE, *recipients, ("export:pirl", "The quarterly PIRL file to DOL")],
            required=True,
        ),
        Field("purpose", "For what purpose", required=True),
        Field("signed_on", "The day it was signed", "date", required=True),
        Field(
            "signed_by",
            "Who signed",
            "select",
            [CHOOSE, *((s.value, label) for s, label in SIGNERS.items())],
            required=True,
        ),
        Field(
            "representative",
            "The representative and their authority",
            help="Only when a representative signed: for example, Jane Doe, legal guardian.",
        ),
        Field(
            "expires_on",
            "Expires on",
            "date",
            help="An expiry date, an expiry event, or both, as the form states.",
        ),
        Field("expiry_event", "Expires on this event", help="For example, release from the RRC."),
    ]


def _consent_page(
    request: Request[Any, Any, Any],
    staff: Staff,
    person: Any,
    fields: list[Field],
    values: dict[str, Any],
    **refused: Any,
) -> Template:
    return render_form(
        request,
        staff,
        title="Record a consent",
        heading="Record a consent",
        intro=f"Signed by or for {_who(person)}. {CONSENT_INTRO}",
        action=f"{PATH}/participants/{person['id']}/consent",
        back=_back(person["id"]),
        fields=fields,
        values=values,
        submit="Record the consent",
        **refused,
    )


def _consent_field(refused: Refusal, labels: dict[str, str]) -> dict[str, str]:
    """An incomplete consent's sentence next to the first element it lacks
    (`… missing: purpose`); any other refusal by its code."""
    if refused.code == "consent_incomplete" and "missing:" in refused.problem_detail:
        missing = refused.problem_detail.rsplit("missing:", 1)[1].split(",")[0].strip()
        if missing in labels:
            return refused.fields(labels, {"consent_incomplete": missing})
    return refused.fields(labels, CONSENT_RULES)


@get(f"{PATH}/participants/{{participant_id:uuid}}/consent")
async def consent_form(request: Request[Any, Any, Any], participant_id: UUID) -> Template:
    """Record a participant's written Part 2 consent (nothing pre-filled)."""
    staff = signed_in(request)
    may(staff, "consents.write", "record a consent")
    person = await not_erased(request, staff, participant_id)
    fields = await _consent_fields(request, staff)
    values = {"idempotency_key": uuid.uuid4().hex, "information": []}
    return _consent_page(request, staff, person, fields, values)


@post(f"{PATH}/participants/{{participant_id:uuid}}/consent")
async def record_consent(request: Request[Any, Any, Any], participant_id: UUID) -> Response[Any]:
    """POST /participants/{id}/consents; on refusal, the form with each sentence by its
    field."""
    staff = signed_in(request)
    may(staff, "consents.write", "record a consent")
    fields = await _consent_fields(request, staff)
    values: dict[str, Any] = await read_form(request, fields)
    form = await request.form()
    values["information"] = [str(i) for i in form.getall("information", [])]
    labels = labels_of(fields)
    check = FormCheck()
    for name in ("recipient", "signed_by"):
        if not values[name]:
            check.problem(name, f"{labels[name]}: choose one of the options")
    # Who may disclose and the purpose go as typed, even empty: the API says what is lacking.
    body: dict[str, Any] = {
        k: values[k] for k in ("discloser", "information", "recipient", "purpose", "signed_by")
    }
    body["signed_on"] = check.day(labels["signed_on"], values["signed_on"], "signed_on")
    for name in ("representative", "expiry_event"):
        if values[name]:
            body[name] = values[name]
    if values["expires_on"]:
        body["expires_on"] = check.day(labels["expires_on"], values["expires_on"], "expires_on")
    sent = await submit(
        request,
        staff,
        check,
        f"/participants/{participant_id}/consents",
        body,
        values["idempotency_key"],
        labels,
        field_errors=lambda refused: _consent_field(refused, labels),
    )
    if isinstance(sent, Refused):
        person = await _person(request, staff, participant_id)
        return _consent_page(request, staff, person, fields, values, **sent.shown)
    consent = sent.answer
    notice = f"Consent recorded: to {consent['recipient']}, {words(consent['status'])}."
    return done(request, sent, notice, _back(participant_id))


async def _consent(
    request: Request[Any, Any, Any], staff: Staff, participant_id: UUID, consent_id: UUID
) -> dict[str, Any]:
    listed = await read_all(request, staff, f"/participants/{participant_id}/consents")
    for consent in listed.get("items", []):
        if str(consent.get("id")) == str(consent_id):
            return dict(consent)
    raise Refusal(404, "not_found", "consent not found")


def _revoke_page(
    request: Request[Any, Any, Any],
    staff: Staff,
    participant_id: UUID,
    consent: dict[str, Any],
    values: dict[str, Any],
    **refused: Any,
) -> Template:
    about = (
        f"The consent to disclose {words(', '.join(consent['information']))} to"
        f" {consent['recipient']} for {consent['purpose']}, signed {consent['signed_on']}"
        f" ({words(consent['status'])}). A revocation is final: to consent again, record a"
        " new consent."
    )
    return render_form(
        request,
        staff,
        title="Revoke a consent",
        heading="Revoke a consent",
        intro=about,
        action=f"{PATH}/participants/{participant_id}/consents/{consent['id']}/revoke",
        back=_back(participant_id),
        fields=REVOKE,
        values=values,
        submit="Revoke the consent",
        **refused,
    )


@get(f"{PATH}/participants/{{participant_id:uuid}}/consents/{{consent_id:uuid}}/revoke")
async def revoke_form(
    request: Request[Any, Any, Any], participant_id: UUID, consent_id: UUID
) -> Template:
    """Revoke a consent from the moment the revocation was received."""
    staff = signed_in(request)
    may(staff, "consents.write", "revoke a consent")
    consent = await _consent(request, staff, participant_id, consent_id)
    values = {"idempotency_key": uuid.uuid4().hex}
    return _revoke_page(request, staff, participant_id, consent, values)


@post(f"{PATH}/participants/{{participant_id:uuid}}/consents/{{consent_id:uuid}}/revoke")
async def revoke(
    request: Request[Any, Any, Any], participant_id: UUID, consent_id: UUID
) -> Response[Any]:
    """POST /participants/{id}/consents/{consent}/revoke, at the instant given (read in the
    grantee's zone)."""
    staff = signed_in(request)
    may(staff, "consents.write", "revoke a consent")
    values = await read_form(request, REVOKE)
    labels = labels_of(REVOKE)
    check = FormCheck()
    zone = await grantee_zone(request, staff)
    body: dict[str, Any] = {
        "revoked_at": check.moment(labels["revoked_at"], values["revoked_at"], zone, "revoked_at")
    }
    if values["note"]:
        body["note"] = values["note"]
    sent = await submit(
        request,
        staff,
        check,
        f"/participants/{participant_id}/consents/{consent_id}/revoke",
        body,
        values["idempotency_key"],
        labels,
        REVOKE_RULES,
    )
    if isinstance(sent, Refused):
        consent = await _consent(request, staff, participant_id, consent_id)
        return _revoke_page(request, staff, participant_id, consent, values, **sent.shown)
    notice = "Consent revoked: nothing more is disclosed under it."
    return done(request, sent, notice, _back(participant_id))


ROUTES = [
    correct_form,
    correct,
    contact_details_form,
    record_contact_details,
    consent_form,
    record_consent,
    revoke_form,
    revoke,
]
