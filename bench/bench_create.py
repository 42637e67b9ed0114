"""Throughput and latency of creating an intervention, three ways, in one run:

1. HTTP -> gateway (pooled RPC proxies) -> interventions service -> DB write
   + outbox event, which three services handle (requests and timeclock keep
   a copy, notifications emails the client through SMTP);
2. HTTP -> a minimal Flask monolith (bench/monolith.py) -> one INSERT;
3. HTTP -> gateway with a new RPC proxy per request (GATEWAY_RPC_POOL=off).

    .venv/bin/python bench/bench_create.py   (or: make bench) [--duration 8] [--concurrency 1,8,32]

Servers: AMQP_URI and POSTGRES_URL (default: the local RabbitMQ and
PostgreSQL on 127.0.0.1). The run works in a vhost and databases of its own
and removes them at the end. See docs/performance.md.

The load generator is closed-loop: `c` processes (multiprocessing *spawn*
context), each with its own requests.Session, each sending the next request
as soon as the previous one is answered. Only requests started after the
warm-up count. Gateway and monolith measurements are interleaved per
concurrency so that machine noise hits both alike. After each gateway
measurement the run waits until the event handlers' backlog is empty (every
intervention emailed, no event message ready), so that no backlog runs
during the next measurement.

Besides the table, it prints the CPU time each group of processes used per
request (read from /proc; Linux only), the event handlers' catch-up
included for gateway rows.

Top-level imports stay light: spawned load-generator processes import this
module again.
"""
import argparse
import math
import multiprocessing as mp
import os
import sys
import time
from collections import Counter
from pathlib import Path

import procstat  # bench/procstat.py: CPU per process, from /proc

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent

DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/"

ADMIN_EMAIL = "admin@bench.fieldwork"
ADMIN_PASSWORD = "admin-bench-password"
JWT_SECRET = "bench-only-secret-of-at-least-32-bytes"

REQUEST_TIMEOUT = 30.0        # client side, per request
UNPOOLED_CONCURRENCY = (1, 8)
DRAIN_TIMEOUT = 120.0         # waiting for the event handlers' backlog


# --- load generator (runs in spawned processes) -----------------------------

def load_worker(index, commands, results):
    """Wait for commands; for each, run a closed loop against one URL."""
    import requests

    results.put(("ready", index))
    while True:
        command = commands.get()
        if command is None:
            return
        url, headers, body, start_at, measure_from, end_at = command
        latencies, statuses, samples, total, total_2xx = [], Counter(), [], 0, 0
        with requests.Session() as session:
            time.sleep(max(0.0, start_at - time.monotonic()))  # every process starts together
            while True:
                t0 = time.monotonic()
                if t0 >= end_at:
                    break
                try:
                    response = session.post(url, json=body, headers=headers, timeout=REQUEST_TIMEOUT)
                    status = response.status_code
                    if not 200 <= status < 300 and len(samples) < 3:
                        samples.append(f"{status} {response.text[:300]}")
                except requests.RequestException as exc:
                    status = 0
                    if len(samples) < 3:
                        samples.append(f"{type(exc).__name__}: {exc}"[:300])
                t1 = time.monotonic()
                total += 1
                if 200 <= status < 300:
                    total_2xx += 1
                if t0 >= measure_from:
                    latencies.append(t1 - t0)
                    statuses[status] += 1
        results.put(("done", index, latencies, dict(statuses), samples, total, total_2xx))


class LoadGenerator:
    def __init__(self, size):
        ctx = mp.get_context("spawn")
        self.results = ctx.Queue()
        self.commands = [ctx.Queue() for _ in range(size)]
        self.processes = [ctx.Process(target=load_worker, args=(i, q, self.results),
                                      name=f"load-{i}", daemon=True)
                          for i, q in enumerate(self.commands)]
        for process in self.processes:
            process.start()

    def wait_ready(self, timeout=120):
        deadline = time.monotonic() + timeout
        ready = set()
        while len(ready) < len(self.processes):
            message = self.results.get(timeout=max(0.1, deadline - time.monotonic()))
            assert message[0] == "ready", message
            ready.add(message[1])

    def run(self, url, headers, body, concurrency, warmup, duration):
        start_at = time.monotonic() + 0.2
        measure_from = start_at + warmup
        end_at = measure_from + duration
        for queue in self.commands[:concurrency]:
            queue.put((url, headers, body, start_at, measure_from, end_at))
        latencies, statuses, samples, total, total_2xx = [], Counter(), [], 0, 0
        for _ in range(concurrency):
            remaining = end_at + REQUEST_TIMEOUT + 30 - time.monotonic()
            _, _, lat, st, smp, answered, ok = self.results.get(timeout=max(1.0, remaining))
            latencies.extend(lat)
            statuses.update(st)
            samples.extend(smp)
            total += answered
            total_2xx += ok
        return Measurement(concurrency, duration, sorted(latencies), statuses, samples[:5],
                           total, total_2xx)

    def stop(self):
        for queue in self.commands:
            try:
                queue.put(None)
            except Exception:
                pass
        for process in self.processes:
            process.join(5)
            if process.is_alive():
                process.terminate()
                process.join(5)


class Measurement:
    def __init__(self, concurrency, duration, latencies, statuses, samples, total, total_2xx):
        self.concurrency = concurrency
        self.duration = duration
        self.latencies = latencies          # sorted, seconds
        self.statuses = statuses            # {status: count}; 0 = no answer
        self.samples = samples              # a few non-2xx answers or exceptions
        self.total = total                  # requests answered, warm-up included
        self.total_2xx = total_2xx          # warm-up included
        self.cpu = None                     # {group: CPU seconds}, see CpuMeter
        self.busy = None                    # machine CPU busy, in cores

    @property
    def count(self):
        return len(self.latencies)

    @property
    def rps(self):
        return self.count / self.duration

    def percentile_ms(self, q):
        if not self.latencies:
            return float("nan")
        rank = max(1, math.ceil(q * len(self.latencies)))
        return self.latencies[rank - 1] * 1000

    @property
    def errors(self):
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)


# --- where the CPU goes (Linux /proc) ------------------------------------------

CPU_GROUPS = ("gateway", "interventions", "consumers", "rabbitmq", "postgres",
              "monolith", "loadgen", "bench")


class CpuMeter:
    """CPU seconds used by groups of processes, read from /proc. `consumers`
    are the services that only react to intervention.created here
    (requests, timeclock, notifications); `bench` is this process, which
    runs the SMTP sink that receives the notification emails. RabbitMQ and
    PostgreSQL are counted whole: anything else using them on the machine
    is counted too."""

    def __init__(self, platform, monolith, load):
        self.platform, self.monolith, self.load = platform, monolith, load
        self.available = procstat.AVAILABLE

    def _pids(self):
        now = procstat.Snapshot()
        groups = {name: [] for name in CPU_GROUPS}
        for name, proc in self.platform.processes.items():
            if proc.alive:
                key = name if name in ("gateway", "interventions") else "consumers"
                groups[key] += now.tree(proc.popen.pid)
        if self.monolith is not None and self.monolith.alive:
            groups["monolith"] = now.tree(self.monolith.popen.pid)
        groups.update(now.servers())
        groups["loadgen"] = [p.pid for p in self.load.processes if p.pid]
        groups["bench"] = [os.getpid()]
        return groups

    def sample(self):
        """{group: {pid: CPU seconds}}; pids are kept so that a process that
        exits between two samples is not counted negative."""
        if not self.available:
            return None
        return {group: {pid: procstat.cpu_seconds(pid) for pid in pids}
                for group, pids in self._pids().items()}

    def machine(self):
        """(busy, total) CPU seconds of the whole machine."""
        return procstat.machine_seconds() if self.available else None

    @staticmethod
    def used(before, after):
        if before is None or after is None:
            return None
        return procstat.used(before, after)


# --- the platform, the monolith, the master data -----------------------------

def start_platform(isolation, smtp, weed, log_dir):
    from fieldwork_common.testing.platform import ALL_SERVICES, LocalPlatform
    from fieldwork_common.testing.smtp import free_port
    env = {
        **isolation.environment(ALL_SERVICES), **weed.environment(),
        "SMTP_HOST": smtp.host, "SMTP_PORT": str(smtp.port),
        "JWT_SECRET": JWT_SECRET, "ADMIN_EMAIL": ADMIN_EMAIL, "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "RPC_TIMEOUT": "10", "HEALTH_TIMEOUT": "2", "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_WORKERS": "2", "GATEWAY_THREADS": "8", "GATEWAY_ACCESS_LOG": "",
        "GATEWAY_RPC_POOL": "on",
        "ACCESS_TOKEN_TTL": "86400",  # a run may outlast a 15-minute token
    }
    platform = LocalPlatform(env=env, log_dir=log_dir, gateway_port=free_port())
    return platform


def start_monolith(isolation, log_dir):
    import requests
    import monolith as monolith_app
    from fieldwork_common.testing.platform import Process
    from fieldwork_common.testing.smtp import free_port
    from fieldwork_common.testing.waiting import wait_until

    url = isolation.database_url("bench_monolith")
    monolith_app.prepare(url)
    port = free_port()
    bin_dir = Path(sys.executable).parent
    argv = [str(bin_dir / "gunicorn"), "--workers", "2", "--threads", "8",
            "--worker-class", "gthread", "--bind", f"127.0.0.1:{port}",
            "--graceful-timeout", "30", "--timeout", "60", "--log-level", "warning",
            # gunicorn 27 otherwise binds a control socket at one fixed path
            # (~/.gunicorn/gunicorn.ctl) shared with every other gunicorn
            "--no-control-socket",
            "--chdir", str(BENCH_DIR), "monolith:app"]
    env = {**os.environ, "MONOLITH_DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    process = Process("monolith", argv, REPO, env, log_dir / "monolith.log").start()
    base_url = f"http://127.0.0.1:{port}"

    def healthy():
        if not process.alive:
            raise RuntimeError(f"the monolith exited:\n{process.log_tail()}")
        try:
            return requests.get(base_url + "/health", timeout=5).status_code == 200
        except requests.RequestException:
            return False
    wait_until(healthy, 60, interval=0.2, message="monolith GET /health = 200")
    return process, base_url


def master_data(base_url):
    """Log in as the admin; one company, technician, client, workshop
    intervention type and equipment. Returns (headers, body)."""
    import uuid
    import requests

    def post(path, body, token=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = requests.post(base_url + path, json=body, headers=headers, timeout=30)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"POST {path} -> {response.status_code} {response.text[:300]}")
        return response.json()

    token = post("/auth/token", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})["access_token"]
    tag = uuid.uuid4().hex[:8]
    company = post("/companies", {"name": f"Bench shop {tag}"}, token)
    technician = post("/technicians", {"name": f"Tech {tag}", "email": f"tech-{tag}@example.test",
                                       "company_id": company["id"]}, token)
    client = post("/clients", {"name": f"Client {tag}", "email": f"client-{tag}@example.test",
                               "company_id": company["id"], "locale": "fr"}, token)
    kind = post("/intervention-types", {"name": f"Repair {tag[:4]}", "location": "workshop"}, token)
    equipment = post("/equipment", {"client_id": client["id"], "kind": "laptop", "brand": "Lenovo",
                                    "model": "T14", "serial_number": tag}, token)
    body = {"client_id": client["id"], "equipment_id": equipment["id"], "type_id": kind["id"],
            "technician_id": technician["id"], "location": "workshop",
            "description": "Screen flickers"}
    return {"Authorization": f"Bearer {token}"}, body


def restart_gateway(platform, extra_env):
    old = platform.processes["gateway"]
    old.stop()
    platform.processes["gateway"] = platform.process("gateway", extra_env=extra_env).start()
    platform.wait_healthy(90)


class Backlog:
    """Waits until the work a gateway run queued is done: every intervention
    created so far emailed (the SMTP sink's count), and no message ready in
    the event handlers' queues (requests, timeclock, notifications), read
    with passive declares, which are exact, unlike the management API's
    periodic statistics."""

    def __init__(self, isolation, servers, smtp):
        from kombu import Connection

        from fieldwork_common import topology
        self.smtp = smtp
        # the queues of every handler of intervention.created (declared by
        # the services at start, from the same list)
        self.queues = [topology.queue_name(s.source, s.event_type, s.service, s.method)
                       for s in topology.SUBSCRIPTIONS if s.event_type == "intervention.created"]
        self.connection = Connection(isolation.amqp_uri)
        self.channel = self.connection.channel()

    def ready(self):
        return sum(self.channel.queue_declare(name, passive=True).message_count
                   for name in self.queues)

    def drain(self, emails, timeout=DRAIN_TIMEOUT):
        from fieldwork_common.testing.waiting import wait_until
        t0 = time.monotonic()
        try:
            wait_until(lambda: len(self.smtp.messages) >= emails and self.ready() == 0,
                       timeout, interval=0.1, message="the event handlers' backlog")
        except AssertionError:
            print(f"  ! backlog not drained after {timeout:.0f}s: {len(self.smtp.messages)} of "
                  f"{emails} emails, {self.ready()} event messages ready", flush=True)
            return
        waited = time.monotonic() - t0
        if waited >= 0.5:
            print(f"  (waited {waited:.1f}s for the event handlers' backlog)", flush=True)

    def close(self):
        self.connection.release()


def _queue_names(servers, vhost):
    from fieldwork_common.testing.servers import list_queues
    return [q["name"] for q in list_queues(servers, vhost)]


def rpc_reply_queues(servers, vhost):
    """(queues named rpc.reply*, all queues) in the vhost, per the
    management API. Its listing lags declarations by a few seconds: poll
    until two readings agree."""
    def read():
        names = _queue_names(servers, vhost)
        return sum(1 for n in names if n.startswith("rpc.reply")), len(names)

    from fieldwork_common.testing.waiting import wait_until
    readings = [read()]

    def stable():
        readings.append(read())
        return readings[-1] == readings[-2]
    try:
        wait_until(stable, 30, interval=3, message="two equal queue listings")
    except AssertionError:
        pass  # report the last reading
    return readings[-1]


# --- the run ---------------------------------------------------------------------

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=8.0,
                        help="seconds measured per path and concurrency (default 8)")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="seconds of unrecorded load before each measurement (default 1)")
    parser.add_argument("--concurrency", default="1,8,32",
                        help="comma-separated closed-loop connection counts (default 1,8,32)")
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c.strip()]
    if not args.concurrency or min(args.concurrency) < 1:
        parser.error("--concurrency needs positive integers")
    return args


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("AMQP_URI", DEFAULT_AMQP_URI)
    os.environ.setdefault("POSTGRES_URL", DEFAULT_POSTGRES_URL)
    sys.path.insert(0, str(BENCH_DIR))
    import warnings
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

    from fieldwork_common.testing import servers as servers_mod
    from fieldwork_common.testing.seaweed import SeaweedFS
    from fieldwork_common.testing.smtp import SmtpSink

    started = time.monotonic()
    unpooled_levels = [c for c in UNPOOLED_CONCURRENCY]
    pool_size = max(args.concurrency + unpooled_levels)

    servers = isolation = smtp = weed = platform = monolith = load = backlog = None
    results = []      # (path, Measurement)
    queues = {}
    try:
        servers = servers_mod.resolve()
        isolation = servers_mod.Isolation.create(servers)
        log_dir = BENCH_DIR / "logs" / isolation.run_id
        print(f"run {isolation.run_id}: vhost {isolation.vhost}, logs in {log_dir}; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}", flush=True)

        load = LoadGenerator(pool_size)          # spawning overlaps the platform's start
        smtp = SmtpSink().start()
        weed = SeaweedFS(log_dir / "seaweedfs", log_path=log_dir / "seaweedfs.log").start()
        platform = start_platform(isolation, smtp, weed, log_dir)
        platform.start(timeout=120)
        monolith, monolith_url = start_monolith(isolation, log_dir)
        load.wait_ready()
        headers, body = master_data(platform.base_url)
        print(f"platform, monolith and {pool_size} load processes ready "
              f"in {time.monotonic() - started:.1f}s", flush=True)

        meter = CpuMeter(platform, monolith, load)
        backlog = Backlog(isolation, servers, smtp)
        gateway_created = 0

        def measure(path, base_url, hdrs, concurrency):
            nonlocal gateway_created
            before, machine_before = meter.sample(), meter.machine()
            m = load.run(base_url + "/interventions", hdrs, body, concurrency,
                         args.warmup, args.duration)
            machine_after = meter.machine()
            if path.startswith("gateway"):
                # the events this run caused are handled before the next one
                # starts, and their CPU is counted for this run
                gateway_created += m.total_2xx
                backlog.drain(gateway_created)
            m.cpu = CpuMeter.used(before, meter.sample())
            if machine_before and machine_after:
                busy = machine_after[0] - machine_before[0]
                wall = (machine_after[1] - machine_before[1]) / (os.cpu_count() or 1)
                m.busy = busy / wall if wall else None
            results.append((path, m))
            print(f"  {path:<20} c={concurrency:<3} {m.rps:8.1f} req/s  p50 {m.percentile_ms(0.5):7.2f} ms"
                  f"  p99 {m.percentile_ms(0.99):7.2f} ms  errors {m.errors}"
                  f"  (load average {os.getloadavg()[0]:.2f})", flush=True)
            for sample in m.samples:
                print(f"      non-2xx: {sample}", flush=True)
            return m

        for concurrency in args.concurrency:
            measure("gateway (pooled)", platform.base_url, headers, concurrency)
            measure("monolith", monolith_url, {}, concurrency)

        queues["before"] = rpc_reply_queues(servers, isolation.vhost)
        restart_gateway(platform, {"GATEWAY_RPC_POOL": "off"})
        for concurrency in unpooled_levels:
            measure("gateway (unpooled)", platform.base_url, headers, concurrency)
        queues["after"] = rpc_reply_queues(servers, isolation.vhost)

        report(results, queues, args)
        print(f"\ntotal run time {time.monotonic() - started:.0f}s; "
              f"load average at the end {os.getloadavg()[0]:.2f}", flush=True)
        return 1 if any(m.total != m.total_2xx for _, m in results) else 0
    finally:
        cleanup = [
            ("load generator", load and load.stop),
            ("backlog probe", backlog and backlog.close),
            ("monolith", monolith and monolith.stop),
            ("platform", platform and platform.stop),
            ("smtp sink", smtp and smtp.stop),
            ("object store", weed and weed.stop),
            ("isolation", isolation and isolation.destroy),
            ("servers", servers and servers.stop),
        ]
        for name, step in cleanup:
            if not step:
                continue
            try:
                step()
            except Exception as exc:
                print(f"cleanup of the {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)


def report(results, queues, args):
    print(f"\nPOST /interventions, closed loop, {args.duration:g} s per row after a "
          f"{args.warmup:g} s warm-up")
    header = f"{'path':<20} {'concurrency':>11} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"
    print(header)
    print("-" * len(header))
    for path, m in results:
        print(f"{path:<20} {m.concurrency:>11} {m.rps:>8.1f} {m.percentile_ms(0.5):>8.2f} "
              f"{m.percentile_ms(0.99):>8.2f} {m.errors:>6}")

    by = {(path, m.concurrency): m for path, m in results}

    def ratio(a, b):
        return f"{a.rps / b.rps:.2f}" if a and b and b.rps else "n/a"

    print("\nmonolith / gateway (pooled) req/s:  " + ",  ".join(
        f"c={c}: {ratio(by.get(('monolith', c)), by.get(('gateway (pooled)', c)))}"
        for c in args.concurrency))
    print("pooled / unpooled gateway req/s:    " + ",  ".join(
        f"c={c}: {ratio(by.get(('gateway (pooled)', c)), by.get(('gateway (unpooled)', c)))}"
        for c in UNPOOLED_CONCURRENCY))
    unpooled_ok = sum(m.total_2xx for path, m in results if path == "gateway (unpooled)")
    if queues:
        (before_reply, before_all), (after_reply, after_all) = queues["before"], queues["after"]
        print(f"RabbitMQ queues in the run's vhost: before the unpooled run {before_all} "
              f"({before_reply} rpc.reply*); after it {after_all} ({after_reply} rpc.reply*), "
              f"for {unpooled_ok} unpooled requests answered 2xx (warm-up included)")
    errors = sum(m.errors for _, m in results)
    warmup_errors = sum(m.total - m.total_2xx for _, m in results) - errors
    print(f"non-2xx answers in total: {errors} (and {warmup_errors} during the warm-ups)")

    if all(m.cpu for _, m in results):
        print("\nCPU ms per request (all requests of the row, warm-up included; for gateway rows,"
              "\nthe event handlers' work until their backlog was empty; rabbitmq and postgres"
              "\ncount the whole servers, shared with anything else on the machine)")
        header = (f"{'path':<20} {'c':>3} {'busy':>5} " + " ".join(f"{g[:8]:>8}" for g in CPU_GROUPS)
                  + f" {'total':>7}")
        print(header)
        print("-" * len(header))
        for path, m in results:
            per = {g: m.cpu.get(g, 0.0) * 1000 / max(1, m.total) for g in CPU_GROUPS}
            busy = f"{m.busy:5.2f}" if m.busy is not None else "  n/a"
            print(f"{path:<20} {m.concurrency:>3} {busy} " + " ".join(f"{per[g]:>8.1f}" for g in CPU_GROUPS)
                  + f" {sum(per.values()):>7.1f}")
        print("busy = machine CPU in use during the measurement, in cores "
              f"(of {os.cpu_count()}); consumers = requests + timeclock + notifications;"
              "\nbench = this process (SMTP sink receiving the notification emails)")


if __name__ == "__main__":
    sys.exit(main())
