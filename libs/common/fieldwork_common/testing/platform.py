"""Run Fieldwork's services as local processes with the very commands
docker-compose.yml names (same `command`, same `working_dir` under the
repository instead of /app). Used by `make run` and the integration tests.
"""
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml

from fieldwork_common.testing.waiting import wait_until

REPO = Path(__file__).resolve().parents[4]
NAMEKO_SERVICES = ("requests", "interventions", "timeclock", "notifications")
ALL_SERVICES = NAMEKO_SERVICES + ("gateway",)


def compose_commands(repo=REPO):
    """{service: (argv, working directory)} from docker-compose.yml."""
    spec = yaml.safe_load((repo / "docker-compose.yml").read_text())
    commands = {}
    for name in ALL_SERVICES:
        service = spec["services"][name]
        workdir = service["working_dir"]
        assert workdir.startswith("/app/"), workdir
        commands[name] = (list(service["command"]), repo / workdir[len("/app/"):])
    return commands


@dataclass
class Process:
    name: str
    argv: list
    cwd: Path
    env: dict
    log_path: Path
    popen: subprocess.Popen | None = None

    def start(self):
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return self

    @property
    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    terminating: bool = False

    def signal(self, sig):
        if self.alive:
            os.kill(self.popen.pid, sig)
            self.terminating = self.terminating or sig == signal.SIGTERM

    def stop(self, timeout=20):
        """SIGTERM, let in-flight work finish, then SIGKILL if it must."""
        if not self.alive:
            return
        if not self.terminating:
            self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self):
        if self.alive:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def log_tail(self, lines=40):
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(text[-lines:])


@dataclass
class LocalPlatform:
    env: dict                 # what every process gets on top of os.environ
    log_dir: Path
    gateway_port: int
    processes: dict = field(default_factory=dict)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.gateway_port}"

    def process(self, name, extra_env=None):
        argv, cwd = compose_commands()[name]
        bin_dir = str(Path(sys.executable).parent)
        env = {**os.environ, **self.env, **(extra_env or {}),
               "GATEWAY_PORT": str(self.gateway_port), "PYTHONUNBUFFERED": "1",
               "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
        # links in emails (notifications) and pages (gateway) point at this gateway
        env.setdefault("PUBLIC_URL", self.base_url)
        argv = [_resolve(argv[0], bin_dir)] + argv[1:]
        return Process(name, argv, cwd, env, self.log_dir / f"{name}.log")

    def start(self, names=ALL_SERVICES, wait=True, timeout=90):
        for name in names:
            self.processes[name] = self.process(name).start()
        if wait:
            self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout=90):
        def healthy():
            for proc in self.processes.values():
                if not proc.alive:
                    raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n"
                                       f"{proc.log_tail()}")
            try:
                return requests.get(self.base_url + "/health", timeout=5).status_code == 200
            except requests.RequestException:
                return False
        try:
            wait_until(healthy, timeout, interval=0.2, message="GET /health = 200")
        except AssertionError:
            tails = "\n".join(f"--- {p.name}\n{p.log_tail(15)}" for p in self.processes.values())
            raise AssertionError(f"the platform is not healthy after {timeout}s\n{tails}") from None

    def stop(self, timeout=20):
        """SIGTERM to every process at once (each takes ~2 s to drain), then
        wait; SIGKILL what is still running after `timeout`."""
        procs = [p for p in self.processes.values() if p.alive]
        for proc in procs:
            proc.signal(signal.SIGTERM)
        for proc in procs:
            proc.stop(timeout)


def _resolve(program, bin_dir):
    candidate = Path(bin_dir) / program
    return str(candidate) if candidate.exists() else program

