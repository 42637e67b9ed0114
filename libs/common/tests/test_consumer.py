"""The pure parts of retries and dead letters, without a broker: the delay
schedule, the header bookkeeping, the declared entities, and what the
handler does with a failed message (publish a copy, then ack; requeue when
the copy was not confirmed)."""
from types import SimpleNamespace

import pytest

from fieldwork_common import consumer, topology
from fieldwork_common.consumer import (
    ATTEMPT, ATTEMPTS, DEAD_LETTERED_AT, ERROR, FAILED_AT, ORIGINAL_EXCHANGE,
    ORIGINAL_ROUTING_KEY, QUEUE, REPLAYS, attempt_of, dead_letter_headers, error_text,
    next_step, replay_headers, retry_headers)

QUEUE_NAME = "evt-interventions-intervention.created--timeclock.on_intervention_created"
FIRST_DELIVERY = {"exchange": "interventions.events", "routing_key": "intervention.created"}
REDELIVERY = {"exchange": "timeclock.redeliver", "routing_key": "timeclock.retry.200"}


# --- the delay schedule --------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("1,2,4", (1.0, 2.0, 4.0)),
    (" 0.2, 0.4 ,0.8 ", (0.2, 0.4, 0.8)),
    ("5", (5.0,)),
    (5, (5.0,)),
    (0.5, (0.5,)),
    ([1, "2", 4.5], (1.0, 2.0, 4.5)),
    ("", ()),
    (None, topology.DEFAULT_RETRY_DELAYS),
])
def test_delays_parse(value, expected):
    assert topology.parse_delays(value) == expected


@pytest.mark.parametrize("value", ["a", "1,,x", "0", "-1", "1,0", "0.0001", True, {"a": 1}])
def test_bad_delays_are_refused(value):
    with pytest.raises(ValueError, match="RETRY_DELAYS"):
        topology.parse_delays(value)


def test_the_nameko_config_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("RETRY_DELAYS", "3,6")
    assert topology.retry_delays({"RETRY_DELAYS": "0.1"}) == (0.1,)
    assert topology.retry_delays({}) == (3.0, 6.0)
    monkeypatch.delenv("RETRY_DELAYS")
    assert topology.retry_delays({}) == topology.DEFAULT_RETRY_DELAYS


def test_the_default_schedule_grows():
    delays = topology.DEFAULT_RETRY_DELAYS
    assert all(later > earlier for earlier, later in zip(delays, delays[1:]))


def test_each_failure_takes_the_next_delay_until_none_is_left():
    delays = (0.2, 0.4, 0.8)
    assert [next_step(n, delays) for n in range(5)] == [
        ("retry", 0.2), ("retry", 0.4), ("retry", 0.8), ("dead", None), ("dead", None)]
    assert next_step(0, ()) == ("dead", None)


# --- header bookkeeping ----------------------------------------------------------

def test_the_first_failure_records_where_the_message_came_from():
    headers = retry_headers({"nameko.correlation_id": "c1"}, queue=QUEUE_NAME,
                            delivery_info=FIRST_DELIVERY, error="DataError: bad", now="T1")
    assert headers == {
        "nameko.correlation_id": "c1",
        ATTEMPT: 1, QUEUE: QUEUE_NAME, ERROR: "DataError: bad", FAILED_AT: ["T1"],
        ORIGINAL_EXCHANGE: "interventions.events", ORIGINAL_ROUTING_KEY: "intervention.created",
    }


def test_a_redelivered_failure_counts_on_and_keeps_the_origin():
    first = retry_headers({}, queue=QUEUE_NAME, delivery_info=FIRST_DELIVERY, error="E: 1", now="T1")
    # what RabbitMQ adds when the copy expires from the delay queue
    back = {**first, "x-death": [{"count": 1, "queue": "timeclock.retry.200"}],
            "x-first-death-queue": "timeclock.retry.200", "x-last-death-reason": "expired"}
    second = retry_headers(back, queue=QUEUE_NAME, delivery_info=REDELIVERY, error="E: 2", now="T2")
    assert second[ATTEMPT] == 2
    assert second[FAILED_AT] == ["T1", "T2"]
    assert second[ERROR] == "E: 2"
    assert second[ORIGINAL_EXCHANGE] == "interventions.events"
    assert second[ORIGINAL_ROUTING_KEY] == "intervention.created"
    assert not [k for k in second if k.startswith(("x-death", "x-first-death", "x-last-death"))]


def test_a_dead_letter_says_how_many_times_and_when():
    headers = {ATTEMPT: 3, FAILED_AT: ["T1", "T2", "T3"], ORIGINAL_EXCHANGE: "interventions.events",
               ORIGINAL_ROUTING_KEY: "intervention.created", "nameko.correlation_id": "c1"}
    dead = dead_letter_headers(headers, queue=QUEUE_NAME, delivery_info=REDELIVERY,
                               error="E: last", now="T4")
    assert dead[ATTEMPTS] == 4
    assert dead[FAILED_AT] == ["T1", "T2", "T3", "T4"]
    assert dead[DEAD_LETTERED_AT] == "T4"
    assert dead[ERROR] == "E: last"
    assert dead[QUEUE] == QUEUE_NAME
    assert dead[ORIGINAL_EXCHANGE] == "interventions.events"
    assert dead["nameko.correlation_id"] == "c1"


def test_a_replay_starts_the_attempts_over_and_counts_replays():
    dead = dead_letter_headers({ATTEMPT: 3, FAILED_AT: ["T1", "T2", "T3"]}, queue=QUEUE_NAME,
                               delivery_info=FIRST_DELIVERY, error="E", now="T4")
    replayed = replay_headers({**dead, "nameko.correlation_id": "c1"}, now="T5")
    assert attempt_of(replayed) == 0
    assert replayed[REPLAYS] == 1
    assert replayed["nameko.correlation_id"] == "c1"
    assert replayed[ORIGINAL_EXCHANGE] == "interventions.events"
    for key in (ATTEMPT, ATTEMPTS, ERROR, FAILED_AT, DEAD_LETTERED_AT, QUEUE):
        assert key not in replayed
    assert replay_headers(replayed, now="T6")[REPLAYS] == 2


@pytest.mark.parametrize("headers, attempt", [
    (None, 0), ({}, 0), ({ATTEMPT: 2}, 2), ({ATTEMPT: "3"}, 3), ({ATTEMPT: "x"}, 0), ({ATTEMPT: -4}, 0)])
def test_attempt_of(headers, attempt):
    assert attempt_of(headers) == attempt


def test_errors_are_short():
    assert error_text((None, ValueError("bad value\nDETAIL: long"), None)) == "ValueError: bad value"
    assert error_text(KeyError()) == "KeyError"
    assert len(error_text(RuntimeError("x" * 1000))) == consumer.ERROR_MAX_LENGTH


# --- declared entities -------------------------------------------------------

def test_a_subscriber_queue_is_nameko_s_queue_with_a_way_back():
    queue = topology.subscriber_queue("interventions", "intervention.created", "timeclock",
                                      "on_intervention_created")
    assert queue.name == QUEUE_NAME
    assert (queue.durable, queue.auto_delete, queue.exclusive) == (True, False, False)
    assert not queue.queue_arguments  # as nameko declares it: no PRECONDITION_FAILED
    bindings = {(b.exchange.name, b.exchange.type, b.routing_key, tuple(sorted((b.arguments or {}).items())))
                for b in queue.bindings}
    assert bindings == {
        ("interventions.events", "topic", "intervention.created", ()),
        ("timeclock.redeliver", "headers", "",
         (("x-fieldwork-queue", QUEUE_NAME), ("x-match", "all-with-x"))),
    }


def test_delay_queues_expire_into_the_redeliver_exchange():
    queue = topology.retry_queue("timeclock", 0.2)
    assert queue.name == "timeclock.retry.200"
    assert queue.queue_arguments == {"x-message-ttl": 200,
                                     "x-dead-letter-exchange": "timeclock.redeliver"}
    assert queue.durable and not queue.auto_delete


def test_every_subscribing_service_gets_its_retry_machinery():
    names = [topology.describe(e) for e in topology.entities((1, 2, 2, 4))]
    for service in {s.service for s in topology.SUBSCRIPTIONS}:
        assert f"exchange {service}.redeliver (headers)" in names
        assert f"queue {service}.dead-letters" in names
        assert [n for n in names if n.startswith(f"queue {service}.retry.")] == [
            f"queue {service}.retry.1000", f"queue {service}.retry.2000", f"queue {service}.retry.4000"]
    for service in topology.SERVICES:
        assert f"exchange {service}.events (topic)" in names
    for subscription in topology.SUBSCRIPTIONS:
        assert f"queue {subscription.queue}" in names
    # exchanges before the queues bound to them
    assert max(i for i, n in enumerate(names) if n.startswith("exchange")) < \
        min(i for i, n in enumerate(names) if n.startswith("queue evt-"))


# --- the handler's decisions, with fakes --------------------------------------

class FakeQueueConsumer:
    def __init__(self, log):
        self.log = log

    def ack_message(self, message):
        self.log.append(("ack", message.delivery_tag))

    def requeue_message(self, message):
        self.log.append(("requeue", message.delivery_tag))


class FakeRetryPublisher:
    def __init__(self, log, delays, fail=False):
        self.log, self.delays, self.fail = log, delays, fail

    def publish(self, body, routing_key, **kwargs):
        if self.fail:
            self.log.append(("publish failed", routing_key))
            raise ConnectionError("broker gone")
        self.log.append(("publish", routing_key, body, kwargs))


def handler(log, delays=(0.2, 0.4, 0.8), fail=False):
    h = consumer.EventHandler("interventions", "intervention.created")
    h.container = SimpleNamespace(service_name="timeclock")
    h.method_name = "on_intervention_created"
    h.queue = topology.subscriber_queue("interventions", "intervention.created", "timeclock",
                                        "on_intervention_created")
    h.queue_consumer = FakeQueueConsumer(log)
    h.retry_publisher = FakeRetryPublisher(log, delays, fail)
    return h


def message(headers=None, delivery_info=FIRST_DELIVERY):
    return SimpleNamespace(
        body=b'{"event_id": "e1"}', headers=headers or {}, delivery_info=delivery_info,
        delivery_tag=7, content_type="application/json", content_encoding="utf-8",
        properties={"message_id": "e1", "expiration": "60000", "user_id": "guest"})


def failure(text="boom"):
    try:
        raise RuntimeError(text)
    except RuntimeError:
        import sys
        return sys.exc_info()


def test_success_is_acked():
    log = []
    handler(log).handle_message_processed(message(), result=None, exc_info=None)
    assert log == [("ack", 7)]


def test_a_failure_is_copied_to_the_first_delay_then_acked():
    log = []
    handler(log).handle_message_processed(message({"nameko.correlation_id": "c1"}), exc_info=failure())
    (kind, routing_key, body, kwargs), ack = log
    assert (kind, routing_key, body) == ("publish", "timeclock.retry.200", b'{"event_id": "e1"}')
    assert ack == ("ack", 7), "the original is acked only after the copy was confirmed"
    assert kwargs["headers"][ATTEMPT] == 1
    assert kwargs["headers"][QUEUE] == QUEUE_NAME
    assert kwargs["headers"][ERROR] == "RuntimeError: boom"
    assert kwargs["headers"]["nameko.correlation_id"] == "c1"
    assert (kwargs["content_type"], kwargs["content_encoding"]) == ("application/json", "utf-8")
    assert kwargs["message_id"] == "e1"
    assert "expiration" not in kwargs and "user_id" not in kwargs


def test_later_failures_take_longer_delays_then_the_dead_letters():
    log = []
    h = handler(log)
    for attempt in (1, 2, 3):
        h.handle_message_processed(message({ATTEMPT: attempt}, REDELIVERY), exc_info=failure())
    routes = [entry[1] for entry in log if entry[0] == "publish"]
    assert routes == ["timeclock.retry.400", "timeclock.retry.800", "timeclock.dead-letters"]
    dead = log[-2][3]["headers"]
    assert dead[ATTEMPTS] == 4
    assert [entry for entry in log if entry[0] == "ack"] == [("ack", 7)] * 3


def test_no_retries_configured_means_dead_letter_at_once():
    log = []
    handler(log, delays=()).handle_message_processed(message(), exc_info=failure())
    assert [entry[1] for entry in log if entry[0] == "publish"] == ["timeclock.dead-letters"]


def test_a_copy_that_could_not_be_published_requeues_the_original(monkeypatch):
    monkeypatch.setattr(consumer, "REQUEUE_PAUSE", 0)
    for attempt in (0, 3):  # on the way to a delay queue, and to the dead letters
        log = []
        handler(log, fail=True).handle_message_processed(message({ATTEMPT: attempt}),
                                                         exc_info=failure())
        assert log[-1] == ("requeue", 7)
        assert ("ack", 7) not in log


def test_the_worker_context_gets_no_broker_or_retry_headers():
    h = handler([])
    context = h.unpack_message_headers(message({
        "nameko.correlation_id": "c1", ATTEMPT: 2, "x-death": [], QUEUE: QUEUE_NAME}))
    assert context == {"correlation_id": "c1"}


@pytest.mark.parametrize("option", [{"requeue_on_error": True}, {"handler_type": "broadcast"},
                                    {"reliable_delivery": False}])
def test_only_reliable_service_pool_handlers(option):
    with pytest.raises(ValueError):
        consumer.EventHandler("interventions", "intervention.created", **option)


def test_an_rpc_replay_needs_an_explicit_choice():
    from fieldwork_common.errors import InvalidInput
    with pytest.raises(InvalidInput):
        consumer.rpc_replay_dead_letters("timeclock", "amqp://unused", None)
    assert consumer.rpc_replay_dead_letters("timeclock", "amqp://unused", [])["replayed"] == []
