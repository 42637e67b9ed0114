"""Two throwaway nameko services for the service-to-service timeout test:
`caller` calls `sleeper` through fieldwork_common.rpc.RpcProxy."""
import eventlet
from nameko.rpc import rpc

from fieldwork_common.rpc import RpcProxy


class Sleeper:
    name = "fw_test_sleeper"

    @rpc
    def sleep(self, seconds):
        eventlet.sleep(seconds)
        return seconds


class Caller:
    name = "fw_test_caller"

    sleeper = RpcProxy("fw_test_sleeper", timeout=0.5)

    @rpc
    def call_sleeper(self, seconds):
        return self.sleeper.sleep(seconds)
