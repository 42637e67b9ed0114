"""Email templates: one source per message and language,
`templates/<name>.<language>.txt` (Jinja2), for both parts of the email.

- The text part is the template rendered as is: its first line is the
  subject, the rest the body.
- The HTML part is the same template rendered again with autoescaping on
  (every value the context brings is escaped), then laid out: a blank line
  separates paragraphs, a line break stays a line break, a web address
  becomes a link (a line that is only an address becomes a button), and
  the result goes into the shared skeleton `templates/layout.html`.

So a sentence is written once per language, and the two parts cannot say
different things. The text a template writes itself (not its values) is
put in the HTML as it is: it must not contain `<`, `>` or `&` (a unit test
checks every template).
"""
import re
from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

# templates ship with the package: compile each once
_text = Environment(loader=PackageLoader("fieldwork_notifications", "templates"),
                    undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False,
                    auto_reload=False)
_html = Environment(loader=PackageLoader("fieldwork_notifications", "templates"),
                    undefined=StrictUndefined, keep_trailing_newline=True, autoescape=True,
                    auto_reload=False)

# in escaped text: an address ends at white space or at an escaped character
# other than "&" (a quote is &#34; or &#39;); trailing punctuation belongs
# to the sentence
_URL = re.compile(r"https?://(?:[^\s<>&]|&amp;)+")
_TRAILING = ".,;:!?)"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(template, language, context):
    """(subject, text body)."""
    rendered = _text.get_template(f"{template}.{language}.txt").render(**context)
    subject, _, body = rendered.partition("\n")
    return subject.strip(), body.lstrip("\n")


def render_email(template, language, context):
    """The subject and both parts, from the one template."""
    subject, text = render(template, language, context)
    escaped = _html.get_template(f"{template}.{language}.txt").render(**context)
    _, _, body = escaped.partition("\n")
    html = _html.get_template("layout.html").render(
        lang=language, subject=subject, content=Markup(html_body(body.lstrip("\n"))))
    return Rendered(subject, text, html)


def _link(match):
    url = match.group(0)
    tail = ""
    while url and url[-1] in _TRAILING:
        url, tail = url[:-1], url[-1] + tail
    return f'<a href="{url}">{url}</a>{tail}'


def html_body(escaped):
    """The HTML of a body already escaped (its values): paragraphs, line
    breaks, links."""
    blocks = []
    for paragraph in re.split(r"\n[ \t]*\n", escaped.strip("\n")):
        lines = [line.strip() for line in paragraph.split("\n") if line.strip()]
        if not lines:
            continue
        if len(lines) == 1 and _URL.fullmatch(lines[0]):
            url = lines[0]
            blocks.append(f'<p class="button"><a href="{url}">{url}</a></p>')
            continue
        blocks.append("<p>" + "<br>\n".join(_URL.sub(_link, line) for line in lines) + "</p>")
    return "\n".join(blocks)
