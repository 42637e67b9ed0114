"""gunicorn's entry: `fieldwork_gateway.wsgi:app`."""
from fieldwork_gateway.app import create_app

app = create_app()
