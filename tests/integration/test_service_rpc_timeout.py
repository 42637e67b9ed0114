"""Every service-to-service RPC has a timeout (issue 3, "RPC")."""
import os
import sys
import time
from pathlib import Path

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from fieldwork_common.errors import Unavailable
from fieldwork_common.testing.platform import Process
from fieldwork_common.testing.waiting import wait_until

SUPPORT = Path(__file__).parent / "support"


@pytest.fixture
def services(isolation, tmp_path):
    nameko = str(Path(sys.executable).parent / "nameko")
    env = {**os.environ, "AMQP_URI": isolation.amqp_uri, "PYTHONPATH": str(SUPPORT)}
    config = tmp_path / "config.yml"
    config.write_text("AMQP_URI: ${AMQP_URI}\n")
    proc = Process("rpc-timeout", [nameko, "run", "--config", str(config), "rpc_timeout_services"],
                   SUPPORT, env, tmp_path / "services.log").start()
    rpc = ClusterRpcProxy({"AMQP_URI": isolation.amqp_uri}, timeout=10)
    cluster = rpc.start()

    def up():
        if not proc.alive:
            raise RuntimeError(proc.log_tail())
        try:
            return cluster.fw_test_caller.call_sleeper(0) == 0
        except Exception:
            return False
    wait_until(up, timeout=30, interval=0.2, message="the test services")
    yield cluster
    rpc.stop()
    proc.stop()


def test_a_call_to_a_slow_service_times_out_as_unavailable(services):
    assert services.fw_test_caller.call_sleeper(0.1) == 0.1
    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        services.fw_test_caller.call_sleeper(3)
    elapsed = time.monotonic() - started
    assert caught.value.details == {"service": "fw_test_sleeper", "timeout_s": 0.5}
    assert 0.4 < elapsed < 2.5, elapsed
