"""Where integration tests get their servers: the environment, else
testcontainers when Docker answers, else a failure that says what to do —
never a silent skip (issue 2)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fieldwork_common.testing import servers

REPO = Path(__file__).resolve().parents[3]


def test_servers_come_from_the_environment_first(monkeypatch):
    monkeypatch.setenv("AMQP_URI", "amqp://u:p@mq.example:5672/")
    monkeypatch.setenv("POSTGRES_URL", "postgresql://pg.example/")
    monkeypatch.delenv("RABBITMQ_MANAGEMENT_URL", raising=False)
    monkeypatch.setattr(servers, "_docker_answers", lambda: pytest.fail("Docker must not be asked"))
    found = servers.resolve()
    assert (found.amqp_uri, found.postgres_url) == ("amqp://u:p@mq.example:5672/", "postgresql://pg.example/")
    assert found.management_url == "http://u:p@mq.example:15672"


def test_without_servers_or_docker_the_run_says_what_to_do(monkeypatch):
    monkeypatch.delenv("AMQP_URI", raising=False)
    monkeypatch.delenv("POSTGRES_URL", raising=False)
    monkeypatch.setattr(servers, "_docker_answers", lambda: False)
    with pytest.raises(servers.ServersUnavailable) as caught:
        servers.resolve()
    assert "AMQP_URI" in str(caught.value) and "rabbitmq_management" in str(caught.value)


def test_the_integration_run_fails_loudly_rather_than_skipping():
    env = {k: v for k, v in os.environ.items() if k not in ("AMQP_URI", "POSTGRES_URL")}
    env["PATH"] = "/nonexistent"  # no `docker` client: testcontainers cannot be tried either
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/integration/test_first_slice.py"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "AMQP_URI" in run.stdout + run.stderr
    assert " passed" not in run.stdout and " skipped" not in run.stdout
