"""Email templates: `templates/<name>.<language>.txt`, Jinja2; the first line
is the subject, the rest the body."""
from jinja2 import Environment, PackageLoader, StrictUndefined

_env = Environment(loader=PackageLoader("fieldwork_notifications", "templates"),
                   undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False,
                   auto_reload=False)  # templates ship with the package: compile each once


def render(template, language, context):
    text = _env.get_template(f"{template}.{language}.txt").render(**context)
    subject, _, body = text.partition("\n")
    return subject.strip(), body.lstrip("\n")
