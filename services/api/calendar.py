"""`/v1/grantees/{grantee}/calendar…`: a staff member's iCalendar feed (RFC 5545). The feed link
carries its own secret token, since calendar applications send no bearer token: the token is
the credential (shown once, replaced by issuing again), its hash is looked up in the
`calendar_feeds` view. The feed names no one: a meeting's summary is generic, its location a
kind and a facility code."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import icalendar
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import Provide

from domain import clock
from projections.calendar import feed_subject, staff_meetings
from projections.meetings import MeetingRow
from services.api import views
from services.api.context import Tenant, action, provide_tenant
from services.api.docs import problems
from services.api.media import exactly
from services.api.problems import ProblemError
from services.app.calendar import token_hash
from services.app.tenancy import Tenancy
from services.store.ledger import Command

# How far back a feed reaches; everything scheduled later is in it.
FEED_DAYS_BACK = 30
# A meeting's length on the calendar until it is held (the pairing's usual hour).
DEFAULT_MINUTES = 60


class FeedOut(msgspec.Struct):
    subject: str
    url: str


class CalendarController(Controller):
    path = "/v1/grantees/{grantee:str}"
    tags = ["calendar"]

    @post(
        "/calendar-feed",
        opt=action("calendar.feed"),
        sync_to_thread=True,
        status_code=201,
        dependencies={"tenant": Provide(provide_tenant, sync_to_thread=False)},
        responses=problems(),
    )
    def issue(self, tenant: Tenant) -> FeedOut:
        """Issue (or replace) the caller's own calendar feed: the returned link, with its token,
        is shown once; subscribe to it in a calendar application. Issuing again replaces it."""
        subject = tenant.principal.subject
        _, token = tenant.app.calendar.issue_feed(Command(), subject)
        return FeedOut(subject, f"/v1/grantees/{tenant.info.slug}/calendar/{token}.ics")

    @get("/calendar/{feed:str}", sync_to_thread=True, media_type="text/calendar")
    def feed(self, request: Request[Any, Any, Any], grantee: str, feed: str) -> Response[bytes]:
        """A staff member's meetings as an iCalendar feed (from 30 days ago on): those of the
        pairings they mentor and of the participants they are case manager or coordinator of.
        The link's token is the credential (no bearer token); an unknown one is 404."""
        tenancy: Tenancy = request.app.state.tenancy
        info = tenancy.grantee(grantee)
        token = feed.removesuffix(".ics")
        if info is None or not token or token == feed:
            raise ProblemError(404, "not_found", "no such calendar feed")
        db, schema = tenancy.db, info.schema
        subject = feed_subject(
            db, views.tables(db, schema, "calendar_feeds", None, 0), token_hash(token)
        )
        if subject is None:
            raise ProblemError(404, "not_found", "no such calendar feed")
        app = tenancy.app(grantee)
        rows = staff_meetings(
            db,
            views.tables(db, schema, "meetings", None, 0),
            views.tables(db, schema, "pairings", None, 0),
            views.tables(db, schema, "mentor_roster", None, 0),
            views.tables(db, schema, "assignments", None, 0),
            subject,
            clock.now() - timedelta(days=FEED_DAYS_BACK),
        )
        cal = icalendar.Calendar()
        cal.add("prodid", "-//PROWD Ledger//calendar feed//EN")
        cal.add("version", "2.0")
        cal.add("x-wr-calname", f"PROWD meetings ({info.name})")
        cal.add("x-wr-timezone", app.time_zone)
        for row in rows:
            cal.add_component(_event(row, app.zone))
        ical = "text/calendar; charset=utf-8"
        return Response(cal.to_ical(), media_type=ical, headers=exactly(ical))


def _event(row: MeetingRow, zone: Any) -> icalendar.Event:
    start = row.scheduled_for.astimezone(zone)
    minutes = row.duration_minutes or DEFAULT_MINUTES
    event = icalendar.Event()
    event.add("uid", f"{row.id}@prowd-ledger")
    event.add("dtstamp", clock.now())
    event.add("dtstart", (row.occurred_at or row.scheduled_for).astimezone(zone))
    event.add("dtend", (row.occurred_at or start).astimezone(zone) + timedelta(minutes=minutes))
    event.add("summary", "Mentoring meeting")
    place = row.location_kind.value.replace("_", " ")
    event.add("location", f"{place} {row.facility}" if row.facility else place)
    event.add("status", "CANCELLED" if row.status.value == "cancelled" else "CONFIRMED")
    event.add("description", f"status: {row.status.value}; pairing {row.pairing_id}")
    return event


ROUTES: list[Any] = [CalendarController]
