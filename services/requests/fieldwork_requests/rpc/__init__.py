"""The service's RPCs, one nameko mixin per wing (`rpc/<wing>.py`, with its
rules in `domain/<wing>.py`), composed in `service.py`; who sees what in
`access.py` (docs/wings.md). The requests wing: issue 12, docs/requests.md."""
