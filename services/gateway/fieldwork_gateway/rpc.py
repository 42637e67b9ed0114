"""A pool of started nameko cluster proxies, one pool per gunicorn worker
process.

Measured (bench/, docs/performance.md): a new proxy per request costs 3.5×
the broker CPU, 1.5× the latency at one connection, and leaves a reply
queue behind per request for 5 minutes; one proxy shared by threads hangs
(STACK-NOTES). So each thread checks a started proxy out for the whole request,
with the caller's principal set as nameko context data, and returns it.
A proxy that timed out or lost its connection is discarded: a late reply
could otherwise be read as the answer to the next call.
"""
import logging
import os
import queue
import threading
import time
import uuid
from contextlib import contextmanager

from nameko.exceptions import RemoteError, RpcTimeout, UnknownService
from nameko.standalone.rpc import ClusterRpcProxy

from fieldwork_common.errors import FieldworkError, Unavailable
from fieldwork_common.principal import CONTEXT_KEY
from fieldwork_common.rpc import BROKER_ERRORS

log = logging.getLogger(__name__)

BROKEN = (RpcTimeout,) + BROKER_ERRORS


class RpcPool:
    """`pooled=False` makes a new proxy (a new AMQP connection and reply
    queue) per request: kept only so that bench/ can measure the difference
    (GATEWAY_RPC_POOL=off)."""

    def __init__(self, amqp_uri, timeout, pooled=True):
        self.config = {"AMQP_URI": amqp_uri}
        self.timeout = timeout
        self.pooled = pooled
        self._pid = None
        self._lock = threading.Lock()
        self._idle = None

    def _for_this_process(self):
        # Proxies hold sockets: one made before gunicorn's fork is unusable
        # after it. Each process starts with an empty pool.
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._idle = queue.LifoQueue()
                    self._pid = os.getpid()
        return self._idle

    def _new(self):
        proxy = ClusterRpcProxy(self.config, timeout=self.timeout)
        cluster = proxy.start()
        return proxy, cluster

    @contextmanager
    def cluster(self, principal=None, correlation_id=None, idempotency_key=None, request_hash=None):
        """Check out a started proxy; `cluster[service].method(...)`."""
        idle = self._for_this_process()
        try:
            entry = idle.get_nowait()
        except queue.Empty:
            try:
                entry = self._new()
            except BROKEN as exc:
                log.warning("cannot reach the message broker: %s", exc)
                raise Unavailable("The message broker is not reachable.") from None
        proxy, cluster = entry
        context = {"correlation_id": correlation_id or str(uuid.uuid4())}
        if principal is not None:
            context[CONTEXT_KEY] = principal.to_json()
        if idempotency_key:
            context.update(idempotency_key=idempotency_key, request_hash=request_hash)
        proxy._worker_ctx.data = context
        healthy = True
        try:
            yield Deadlines(cluster, proxy._worker_ctx.data, self.timeout)
        except RpcTimeout as exc:
            healthy = False
            raise Unavailable("A service did not answer in time.", {"timeout_s": self.timeout}) from exc
        except UnknownService as exc:
            raise Unavailable("A service is not running.", {"service": exc._service_name}) from exc
        except (FieldworkError, RemoteError):
            raise
        except BROKEN as exc:
            healthy = False
            log.warning("RPC failed: %s", exc)
            raise Unavailable("The message broker is not reachable.") from exc
        except BaseException:
            healthy = False
            raise
        finally:
            if healthy and self.pooled:
                idle.put(entry)
            else:
                _stop_quietly(proxy)


class Deadlines:
    """Wraps a cluster proxy so that each call carries a deadline: when
    this call times out here (503), the service does not run it later."""

    def __init__(self, cluster, context, timeout):
        self._cluster, self._context, self._timeout = cluster, context, timeout

    def __getitem__(self, service):
        return _Service(self, service)

    __getattr__ = __getitem__

    def _call(self, service, method, args, kwargs):
        # leave the service a margin to answer before we give up on it
        margin = min(1.0, self._timeout * 0.2)
        self._context["deadline"] = repr(time.time() + self._timeout - margin)
        return getattr(self._cluster[service], method)(*args, **kwargs)


class _Service:
    def __init__(self, deadlines, name):
        self._deadlines, self._name = deadlines, name

    def __getattr__(self, method):
        return lambda *args, **kwargs: self._deadlines._call(self._name, method, args, kwargs)


def _stop_quietly(proxy):
    try:
        proxy.stop()
    except Exception:
        pass
