"""iCalendar (RFC 5545) documents, with the icalendar library: the feeds
calendar apps subscribe to and the invitations attached to emails."""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import icalendar

PRODID = "-//Fieldwork//Fieldwork//EN"


@dataclass(frozen=True)
class CalendarEvent:
    uid: str                 # stable: the same appointment keeps its uid
    start: datetime          # aware
    summary: str
    description: str = ""
    location: str = ""
    duration: timedelta = timedelta(minutes=30)
    sequence: int = 0        # bump it when the appointment changes
    url: str = ""


def calendar(events, name=None, method=None, stamp=None):
    """An iCalendar document (bytes). `method="REQUEST"` makes it an
    invitation (an email attachment); a feed has no method."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    if name:
        cal.add("x-wr-calname", name)
    stamp = stamp or datetime.now(timezone.utc)
    for item in events:
        event = icalendar.Event()
        event.add("uid", item.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", item.start.astimezone(timezone.utc))
        event.add("dtend", (item.start + item.duration).astimezone(timezone.utc))
        event.add("summary", item.summary)
        event.add("sequence", item.sequence)
        if item.description:
            event.add("description", item.description)
        if item.location:
            event.add("location", item.location)
        if item.url:
            event.add("url", item.url)
        cal.add_component(event)
    return cal.to_ical()


def parse(data):
    """The events of an iCalendar document, as icalendar components (tests
    and consumers)."""
    return [c for c in icalendar.Calendar.from_ical(data).walk("VEVENT")]
