"""What the server-rendered pages opened without login share (the tracking
page, the survey page): their headers and how their language is chosen."""
from flask import request

LANGUAGES = ("fr", "en")

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",          # the token is in the URL
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "Content-Type": "text/html; charset=utf-8",
}


def language(preferred=None):
    """`?lang=fr|en` when given, else the preferred language (the
    client's), else French."""
    wanted = request.args.get("lang")
    if wanted in LANGUAGES:
        return wanted
    return preferred if preferred in LANGUAGES else "fr"
