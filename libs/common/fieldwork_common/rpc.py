"""Service-to-service RPC with a timeout.

nameko's in-service `RpcProxy` waits for ever. `RpcProxy(service, timeout)`
answers `Unavailable` when the other service does not reply in time. The
call carries the worker's context on (principal, correlation id, and the
gateway's deadline, so the callee also refuses work nobody waits for).
"""
import eventlet
from nameko.rpc import RpcProxy as NamekoRpcProxy

from fieldwork_common import config
from fieldwork_common.errors import Unavailable


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
