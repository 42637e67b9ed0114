"""The event envelope of DESIGN.md §2: the public contract every consumer,
nameko or not, reads."""
import uuid
from datetime import datetime, timezone

ENVELOPE_FIELDS = (
    "event_id", "event_type", "event_version", "occurred_at", "producer",
    "aggregate_id", "correlation_id", "data",
)


def utc_now():
    return datetime.now(timezone.utc)


def rfc3339(moment):
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def make_envelope(producer, event_type, aggregate_id, data, *, correlation_id=None,
                  event_version=1, event_id=None, occurred_at=None):
    event_id = str(event_id or uuid.uuid4())
    return {
        "event_id": event_id,
        "event_type": event_type,
        "event_version": event_version,
        "occurred_at": rfc3339(occurred_at or utc_now()),
        "producer": producer,
        "aggregate_id": str(aggregate_id),
        "correlation_id": correlation_id or event_id,
        "data": data,
    }


def exchange_name(service):
    """nameko's naming: events of service S go to the topic exchange
    `S.events`, routing key = event_type."""
    return f"{service}.events"
