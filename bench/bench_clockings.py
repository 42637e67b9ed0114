"""Clock-ins (POST /visits/{id}/clockings) through the gateway: 100 workers
clocking in at the same instant on 100 different visits, beside the same
100 clock-ins made one after the other.

    .venv/bin/python bench/bench_clockings.py   [--workers 100] [--rounds 3]

Servers: AMQP_URI and POSTGRES_URL (default: the local RabbitMQ and
PostgreSQL). The run starts the platform (LocalPlatform) in a vhost and
databases of its own and removes them at the end, like bench_list.py.

Setup through the gateway (nothing seeded by SQL: timeclock's copy of the
visits must come from the visit events): one company with clocking on, a
client, a billable validated contract, `--workers` technicians with a login
each and one at_home intervention each, and for every round two visits per
technician happening now (one for the concurrent round, one for the
sequential one); the run waits until timeclock knows every visit.

Measured, per round:
- concurrent: every worker's thread waits at one barrier, then posts its
  clock-in (manual, device time = now); the wall time from the barrier to
  the last answer gives clock-ins/s, and each request's latency its p50/p99.
  Every answer must be 201 and the database must hold one row per visit;
- sequential: the same number of clock-ins, one at a time on one thread.
Then every worker clocks out (not measured) so that the next round's
clock-ins are allowed (one open clock-in per worker).
The ratio concurrent/sequential clock-ins/s says what the platform gains
from concurrency on this machine (2 gateway workers x 8 threads, timeclock's
10 nameko workers by default).
"""
import argparse
import os
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import bench_list  # noqa: E402  (platform defaults, login, percentiles)
from bench_list import login, percentile  # noqa: E402

PASSWORD = bench_list.PASSWORD


def rfc(moment):
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class Http:
    """One requests session with a bearer token; raises on an unexpected status."""

    def __init__(self, base_url, token):
        import requests
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method, path, body=None, expect=(200, 201)):
        response = self.session.request(method, self.base_url + path, json=body, timeout=60)
        if response.status_code not in expect:
            raise RuntimeError(f"{method} {path} -> {response.status_code} {response.text[:300]}")
        return response

    def post(self, path, body, expect=(201,)):
        return self.call("POST", path, body, expect).json()


def user(base, admin, role, **links):
    email = f"{role}-{uuid.uuid4().hex[:8]}@bench.test"
    admin.post("/users", {"email": email, "password": PASSWORD, "role": role, **links})
    return Http(base, login(base, email, PASSWORD))


def setup(base, admin, workers, rounds):
    """The company, its people and 2 x rounds visits per worker happening now."""
    company = admin.post("/companies", {"name": f"Bench clockings {uuid.uuid4().hex[:6]}"})
    client = admin.post("/clients", {"name": "Bench client", "email": "client@bench.test",
                                     "company_id": company["id"], "locale": "fr"})
    equipment = admin.post("/equipment", {"client_id": client["id"], "kind": "boiler",
                                          "brand": "Bench", "model": "B1", "serial_number": "B-1"})
    kind = admin.post("/intervention-types", {"name": f"Entretien {uuid.uuid4().hex[:4]}",
                                              "location": "at_home"})
    contract = admin.post("/contracts", {"client_id": client["id"], "reference": "CT-BENCH",
                                         "billable": True})
    admin.call("PUT", f"/contracts/{contract['id']}/state",
               {"state": "validated", "version": contract["version"]})
    company_admin = user(base, admin, "admin", company_id=company["id"])
    company_admin.call("PUT", "/timeclock/settings", {"values": {"clocking_enabled": True}})
    manager = user(base, admin, "manager", company_id=company["id"])
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
    people = []
    for k in range(workers):
        technician = admin.post("/technicians", {"name": f"Tech {k}", "email": f"tech{k}@bench.test",
                                                 "company_id": company["id"]})
        home = admin.post("/interventions", {
            "client_id": client["id"], "equipment_id": equipment["id"], "type_id": kind["id"],
            "technician_id": technician["id"], "location": "at_home", "description": f"Bench {k}"})
        visits = []
        for r in range(2 * rounds):
            # a visit per slot, one after the other on the worker's day: each starts now
            [visit] = manager.post(f"/interventions/{home['id']}/visits", {
                "start_at": rfc(start), "end_at": rfc(start + timedelta(hours=8)),
                "contract_id": contract["id"]})["items"]
            visits.append(visit["id"])
        people.append((user(base, admin, "technician", technician_id=technician["id"]), visits))
        if (k + 1) % 20 == 0:
            print(f"  {k + 1} workers ready", flush=True)
    return manager, people


def known(timeclock_db, visit_ids):
    import sqlalchemy as sa
    with timeclock_db.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM known_visits WHERE id = ANY(CAST(:ids AS uuid[]))"),
                            {"ids": list(visit_ids)}).scalar()


def rows(timeclock_db, visit_ids):
    import sqlalchemy as sa
    with timeclock_db.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM clockings WHERE visit_id = ANY(CAST(:ids AS uuid[]))"),
                            {"ids": list(visit_ids)}).scalar()


def clock(worker, visit_id, kind):
    t0 = time.perf_counter()
    response = worker.session.post(
        f"{worker.base_url}/visits/{visit_id}/clockings",
        json={"kind": kind, "method": "manual", "device_time": rfc(datetime.now(timezone.utc))},
        timeout=60)
    return (time.perf_counter() - t0) * 1000, response


def concurrent_round(people, slot):
    barrier = threading.Barrier(len(people) + 1)
    answers = [None] * len(people)

    def tap(k, worker, visits):
        barrier.wait()
        answers[k] = clock(worker, visits[slot], "in")

    threads = [threading.Thread(target=tap, args=(k, w, v)) for k, (w, v) in enumerate(people)]
    for thread in threads:
        thread.start()
    barrier.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - t0, answers


def sequential_round(people, slot):
    t0 = time.perf_counter()
    answers = [clock(worker, visits[slot], "in") for worker, visits in people]
    return time.perf_counter() - t0, answers


def clock_out(people, slot):
    for worker, visits in people:
        latency, response = clock(worker, visits[slot], "out")
        if response.status_code != 201:
            raise RuntimeError(f"clock-out -> {response.status_code} {response.text[:300]}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=100, help="workers clocking in at once")
    parser.add_argument("--rounds", type=int, default=3, help="concurrent + sequential rounds")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import sqlalchemy as sa
    from fieldwork_common.db import engine_url
    from fieldwork_common.testing.waiting import wait_until

    started = time.monotonic()
    failures = 0
    timeclock_db = None
    with bench_list.bench_platform(rpc_timeout=30) as (isolation, platform):
        try:
            base = platform.base_url
            admin = Http(base, login(base, bench_list.ADMIN_EMAIL, bench_list.ADMIN_PASSWORD))
            t0 = time.monotonic()
            manager, people = setup(base, admin, args.workers, args.rounds)
            every_visit = [v for _, visits in people for v in visits]
            timeclock_db = sa.create_engine(engine_url(isolation.database_url("timeclock")))
            wait_until(lambda: known(timeclock_db, every_visit) == len(every_visit), timeout=180,
                       message="timeclock knows every visit")
            print(f"{args.workers} workers, {len(every_visit)} visits known to timeclock in "
                  f"{time.monotonic() - t0:.0f}s", flush=True)

            header = (f"{'round':<5} {'mode':<11} {'clock-ins':>9} {'201':>4} {'rows':>5} {'wall s':>7} "
                      f"{'per s':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
            print("\n" + header)
            print("-" * len(header), flush=True)
            rates = {"concurrent": [], "sequential": []}
            p99s = {"concurrent": [], "sequential": []}
            for r in range(args.rounds):
                for mode, run, slot in (("concurrent", concurrent_round, 2 * r),
                                        ("sequential", sequential_round, 2 * r + 1)):
                    wall, answers = run(people, slot)
                    latencies = sorted(ms for ms, _ in answers)
                    created = sum(1 for _, response in answers if response.status_code == 201)
                    landed = rows(timeclock_db, [visits[slot] for _, visits in people])
                    if created != len(people) or landed != len(people):
                        failures += 1
                        odd = [response.text[:200] for _, response in answers if response.status_code != 201]
                        print(f"  NOT all landed: {odd[:3]}", flush=True)
                    rate = len(people) / wall
                    rates[mode].append(rate)
                    p99s[mode].append(percentile(latencies, 0.99))
                    print(f"{r + 1:<5} {mode:<11} {len(people):>9} {created:>4} {landed:>5} {wall:>7.2f} "
                          f"{rate:>7.1f} {percentile(latencies, 0.5):>7.1f} "
                          f"{percentile(latencies, 0.99):>7.1f} {latencies[-1]:>7.1f}   "
                          f"(load average {os.getloadavg()[0]:.2f})", flush=True)
                    clock_out(people, slot)

            best = {mode: max(values) for mode, values in rates.items()}
            print(f"\nconcurrent: {min(rates['concurrent']):.1f}-{best['concurrent']:.1f} clock-ins/s, "
                  f"p99 {min(p99s['concurrent']):.0f}-{max(p99s['concurrent']):.0f} ms; sequential: "
                  f"{min(rates['sequential']):.1f}-{best['sequential']:.1f} clock-ins/s, p99 "
                  f"{min(p99s['sequential']):.0f}-{max(p99s['sequential']):.0f} ms")
            ratios = [c / s for c, s in zip(rates["concurrent"], rates["sequential"])]
            print("concurrent / sequential clock-ins/s, per round: "
                  + ", ".join(f"{x:.2f}x" for x in ratios))
            print(f"every clock-in landed: {'yes' if not failures else f'NO ({failures} rounds)'}; "
                  f"total run time {time.monotonic() - started:.0f}s", flush=True)
            return 1 if failures else 0
        finally:
            if timeclock_db is not None:
                timeclock_db.dispose()


if __name__ == "__main__":
    sys.exit(main())
