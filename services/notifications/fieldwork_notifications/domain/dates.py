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
