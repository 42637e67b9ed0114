"""Dead letters, for operators: list them, and replay them once the cause is
fixed.

A message whose handler failed after every retry (`fieldwork_common.consumer`)
waits in `<service>.dead-letters` with headers that say where it came from
and why it failed. Reading them never loses one: each is fetched with
`basic.get` and left unacknowledged while the list is built, then rejected
with requeue (closing the connection would requeue them too). A replay
publishes the message back to the queue it failed in (default exchange,
routing key = that queue), with its attempt count reset, waits for the
broker's confirm, and only then acks the dead letter; the others stay.

    python -m fieldwork_common.deadletters list timeclock
    python -m fieldwork_common.deadletters replay timeclock --id <event_id> [--id ...]
    python -m fieldwork_common.deadletters replay timeclock --all

Both print JSON and use AMQP_URI.
"""
import argparse
import json
import logging
import sys

from amqp.exceptions import NotFound
from kombu import Connection, Producer

from fieldwork_common import consumer, topology
from fieldwork_common.envelope import rfc3339, utc_now

log = logging.getLogger(__name__)


def _open(amqp_uri):
    conn = Connection(amqp_uri, transport_options={"confirm_publish": True},
                      connect_timeout=5, heartbeat=0)
    conn.ensure_connection(max_retries=3)
    return conn


def _fetch_all(conn, service, limit=None):
    """(channel, messages): every dead letter, unacknowledged, in order; an
    absent queue has none."""
    channel = conn.channel()
    name = topology.dead_letter_queue_name(service)
    try:
        channel.queue_declare(queue=name, passive=True)
    except NotFound:
        return conn.channel(), []  # a 404 closes the channel
    queue = topology.dead_letter_queue(service).bind(channel)
    messages = []
    while limit is None or len(messages) < limit:
        message = queue.get(no_ack=False)
        if message is None:
            break
        messages.append(message)
    return channel, messages


def _requeue(messages):
    for message in messages:
        if not message.acknowledged:
            try:
                message.requeue()
            except Exception:  # connection gone: the broker requeues them itself
                log.warning("could not requeue a dead letter; the broker will on disconnect")
                return


def _envelope(message):
    try:
        body = json.loads(message.body)
    except (TypeError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def describe(message):
    """A dead letter as JSON-ready data."""
    headers = message.headers or {}
    properties = message.properties or {}
    envelope = _envelope(message)
    event_id = (envelope or {}).get("event_id") or properties.get("message_id")
    return {
        "id": str(event_id) if event_id is not None else None,
        "event_type": (envelope or {}).get("event_type")
        or headers.get(consumer.ORIGINAL_ROUTING_KEY),
        "queue": headers.get(consumer.QUEUE),
        "attempts": headers.get(consumer.ATTEMPTS),
        "last_error": headers.get(consumer.ERROR),
        "dead_lettered_at": headers.get(consumer.DEAD_LETTERED_AT),
        "failed_at": list(headers.get(consumer.FAILED_AT) or []),
        "original_exchange": headers.get(consumer.ORIGINAL_EXCHANGE),
        "original_routing_key": headers.get(consumer.ORIGINAL_ROUTING_KEY),
        "replays": headers.get(consumer.REPLAYS, 0),
        "envelope": envelope,
    }


def list_dead_letters(amqp_uri, service, limit=None):
    """Every dead letter of `service` (oldest first); none is consumed."""
    with _open(amqp_uri) as conn:
        channel, messages = _fetch_all(conn, service, limit)
        try:
            return [describe(m) for m in messages]
        finally:
            _requeue(messages)
            channel.close()


def replay(amqp_uri, service, ids=None):
    """Send the dead letters whose id is in `ids` (every one when `ids` is
    None) back to the queue they failed in, attempts reset.

    Returns {"replayed": [{"id", "queue"}], "not_found": [ids],
    "failed": [{"id", "error"}], "remaining": n}."""
    wanted = None if ids is None else {str(i) for i in ids}
    replayed, failed, found = [], [], set()
    with _open(amqp_uri) as conn:
        channel, messages = _fetch_all(conn, service)
        publish_channel = conn.channel()
        try:
            for message in messages:
                info = describe(message)
                if wanted is not None and info["id"] not in wanted:
                    continue
                found.add(info["id"])
                if not info["queue"]:
                    failed.append({"id": info["id"], "error": "no x-fieldwork-queue header"})
                    continue
                try:
                    Producer(publish_channel).publish(
                        message.body, exchange="", routing_key=info["queue"],
                        headers=consumer.replay_headers(message.headers, rfc3339(utc_now())),
                        content_type=message.content_type,
                        content_encoding=message.content_encoding,
                        delivery_mode=2, mandatory=True, retry=False,
                        confirm_timeout=consumer.CONFIRM_TIMEOUT,
                        **consumer.copied_properties(message))
                except Exception as exc:  # e.g. the queue no longer exists (NO_ROUTE)
                    failed.append({"id": info["id"], "error": f"{type(exc).__name__}: {exc}"})
                    # its channel may hold a stale confirm: use a fresh one
                    try:
                        publish_channel.close()
                    except Exception:
                        pass
                    publish_channel = conn.channel()
                    continue
                message.ack()
                replayed.append({"id": info["id"], "queue": info["queue"]})
        finally:
            _requeue(messages)
            remaining = len(messages) - len(replayed)
    not_found = sorted(wanted - found) if wanted is not None else []
    return {"replayed": replayed, "not_found": not_found, "failed": failed,
            "remaining": remaining}


def main(argv=None):
    from fieldwork_common import config
    parser = argparse.ArgumentParser(prog="python -m fieldwork_common.deadletters",
                                     description="List or replay a service's dead letters (uses AMQP_URI).")
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="print every dead letter of a service (none is consumed)")
    listing.add_argument("service", choices=topology.SERVICES)
    listing.add_argument("--limit", type=int, default=None)
    replaying = sub.add_parser("replay", help="send dead letters back to the queue they failed in")
    replaying.add_argument("service", choices=topology.SERVICES)
    which = replaying.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", dest="ids", action="append", metavar="ID",
                       help="a dead letter's id (the event_id); repeat for several")
    which.add_argument("--all", action="store_true", help="replay every dead letter")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.command == "list":
        print(json.dumps(list_dead_letters(config.amqp_uri(), args.service, args.limit),
                         indent=2, default=str))
        return 0
    result = replay(config.amqp_uri(), args.service, None if args.all else args.ids)
    print(json.dumps(result, indent=2, default=str))
    return 1 if result["failed"] or result["not_found"] else 0


if __name__ == "__main__":
    sys.exit(main())
