"""Dates as a client reads them in an email: in the shop's time zone
(Europe/Paris), in the client's language, saying which zone it is."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Europe/Paris")

_DAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}


def parse_timestamp(value):
    """An RFC 3339 string (or an aware datetime) as an aware datetime; None
    stays None. A naive value is taken as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _offset(local):
    seconds = int(local.utcoffset().total_seconds())
    sign = "+" if seconds >= 0 else "-"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"UTC{sign}{hours}" + (f":{minutes:02d}" if minutes else "")


def format_datetime(value, language):
    """e.g. fr: "mardi 3 mars 2026 à 14h30 (heure de Paris, UTC+1)",
    en: "Tuesday 3 March 2026 at 14:30 (Paris time, UTC+1)"."""
    local = parse_timestamp(value).astimezone(ZONE)
    language = language if language in _DAYS else "fr"
    day = _DAYS[language][local.weekday()]
    month = _MONTHS[language][local.month - 1]
    if language == "en":
        return (f"{day} {local.day} {month} {local.year} at {local:%H:%M} "
                f"(Paris time, {_offset(local)})")
    number = "1er" if local.day == 1 else str(local.day)
    return (f"{day} {number} {month} {local.year} à {local.hour}h{local.minute:02d} "
            f"(heure de Paris, {_offset(local)})")


def format_date(value, language):
    """The day only, e.g. "3 mars 2026" / "3 March 2026" (Paris time)."""
    local = parse_timestamp(value).astimezone(ZONE)
    language = language if language in _MONTHS else "fr"
    return f"{local.day} {_MONTHS[language][local.month - 1]} {local.year}"


def format_day(value, language):
    """The day as a sentence names it, e.g. "1er juillet 2026" / "1 July
    2026" (Paris time)."""
    local = parse_timestamp(value).astimezone(ZONE)
    language = language if language in _MONTHS else "fr"
    number = "1er" if language == "fr" and local.day == 1 else str(local.day)
    return f"{number} {_MONTHS[language][local.month - 1]} {local.year}"


def _clock(local, language):
    return f"{local:%H:%M}" if language == "en" else f"{local.hour}h{local.minute:02d}"


def format_period(start, end, language):
    """From a start to an end, e.g. fr "le mardi 3 mars 2026 de 14h30 à
    16h00 (heure de Paris, UTC+1)", en "on Tuesday 3 March 2026 from 14:30
    to 16:00 (Paris time, UTC+1)"; across two days (or a change of
    offset) both moments in full: "du … au …" / "from … to …"."""
    language = language if language in _DAYS else "fr"
    first = parse_timestamp(start).astimezone(ZONE)
    last = parse_timestamp(end).astimezone(ZONE)
    if first.date() != last.date() or first.utcoffset() != last.utcoffset():
        if language == "en":
            return f"from {format_datetime(first, 'en')} to {format_datetime(last, 'en')}"
        return f"du {format_datetime(first, 'fr')} au {format_datetime(last, 'fr')}"
    day = f"{_DAYS[language][first.weekday()]} {format_day(first, language)}"
    if language == "en":
        return (f"on {day} from {_clock(first, 'en')} to {_clock(last, 'en')} "
                f"(Paris time, {_offset(first)})")
    return (f"le {day} de {_clock(first, 'fr')} à {_clock(last, 'fr')} "
            f"(heure de Paris, {_offset(first)})")
