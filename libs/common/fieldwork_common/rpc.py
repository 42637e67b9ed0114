"""RPC for Fieldwork services: the `rpc` entrypoint, and service-to-service
calls with a timeout.

`rpc`: nameko's, except that losing the broker while a worker finishes
does not kill the service. nameko 2.14 lets an error raised while sending
the reply or acking the request escape into the container, which then
stops (seen: a RabbitMQ cut of 4 s under load made `nameko run` exit).
Here such an error is logged and the request left to the broker, which
redelivers it once the connection is back; commands are idempotent and
carry a deadline, so the redelivery is answered from the stored response
or refused.

`RpcProxy(service, timeout)`: nameko's in-service proxy waits for ever;
this one answers `Unavailable` when the other service does not reply in
time. The call carries the worker's context on (principal, correlation id,
and the gateway's deadline, so the callee also refuses work nobody waits
for).
"""
import logging
import socket

import eventlet
from amqp.exceptions import AMQPError
from kombu.exceptions import OperationalError as KombuOperationalError
from nameko.amqp.publish import UndeliverableMessage
from nameko.rpc import Rpc as NamekoRpc
from nameko.rpc import RpcProxy as NamekoRpcProxy

from fieldwork_common import config
from fieldwork_common.errors import Unavailable

log = logging.getLogger(__name__)

#: what a lost or closing broker connection raises while replying or acking
BROKER_ERRORS = (OSError, socket.error, AMQPError, KombuOperationalError, ConnectionError,
                 UndeliverableMessage)


class Rpc(NamekoRpc):

    def handle_result(self, message, worker_ctx, result, exc_info):
        try:
            return super().handle_result(message, worker_ctx, result, exc_info)
        except BROKER_ERRORS as exc:
            log.warning("could not answer %s.%s (%s: %s); the broker will redeliver it",
                        self.container.service_name, self.method_name, type(exc).__name__, exc)
            try:
                self.rpc_consumer.requeue_message(message)
            except BROKER_ERRORS:
                pass  # the connection is gone: the broker requeues it itself
            return result, exc_info


rpc = Rpc.decorator


class RpcProxy(NamekoRpcProxy):
    def __init__(self, target_service, timeout=None, **options):
        super().__init__(target_service, **options)
        self.timeout = timeout

    def get_dependency(self, worker_ctx):
        return TimedServiceProxy(super().get_dependency(worker_ctx), self.target_service,
                                 self.timeout or config.rpc_timeout())


class TimedServiceProxy:
    def __init__(self, proxy, service, timeout):
        self._proxy, self._service, self._timeout = proxy, service, timeout

    def __getattr__(self, method):
        def call(*args, **kwargs):
            timeout = Unavailable(f"{self._service}.{method} did not answer in time.",
                                  {"service": self._service, "timeout_s": self._timeout})
            with eventlet.Timeout(self._timeout, timeout):
                return getattr(self._proxy, method)(*args, **kwargs)
        return call
