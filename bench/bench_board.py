"""The validation board (GET /validation-board) and batch validation
(POST /visits/validate-batch) with 10,000 visits in one company, through
the gateway.

    .venv/bin/python bench/bench_board.py   [--visits 10000] [--others 40000] [--requests 300]

Servers: AMQP_URI and POSTGRES_URL (default: the local RabbitMQ and
PostgreSQL). The run starts the platform (LocalPlatform) in a vhost and
databases of its own and removes them at the end, like bench_list.py.

Seeding (SQL, after the platform migrated its databases): bench_list.py's
master data (20 companies, 300 technicians, 5,000 clients) and 20,000
interventions, one in ten at a client's; one billable validated contract per
client; `--visits` visits in company 3 (the manager's) and `--others` spread
over the other companies, over the last 120 days and the next 30: a third
validated, the rest waiting for someone (to declare, done awaiting the
client, disputed, in arbitration) or still to do. Then VACUUM ANALYZE.

Measured, one request after the other on one connection, after `--warmup`
unrecorded ones: board pages as a manager of company 3 and as the global
admin (first page with totals, filtered by who it waits for, by technician,
a deep page), beside GET /visits of the same company (a plain list of the
same rows: the ratio says what the board's wait ordering and totals cost);
the CSV export of the company's whole board; and batch validations of 100
done visits in the client's place (each a real batch: locks, moves,
entries, events, timers). The target is p99 < 100 ms for a board page.
"""
import argparse
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import bench_list  # noqa: E402  (its seed, HTTP caller and percentiles)
from bench_list import Caller, login, make_user, md5_uuid, measure, percentile  # noqa: E402

TARGET_P99_MS = 100.0
BATCH = 100

VISITS_SQL = """
INSERT INTO contracts (id, client_id, company_id, reference, billable, state, active, created_at, version)
SELECT md5('contract' || g)::uuid, md5('client' || g)::uuid, md5('company' || (g % {companies}))::uuid,
       'CT-' || g, true, 'validated', true, now() - interval '2 years', 2
FROM generate_series(0, {clients} - 1) g;

-- 100 interventions at a client's per company (bench_list's one in ten fall in two
-- companies only), each of a client and a technician of its company
INSERT INTO interventions (id, company_id, client_id, equipment_id, type_id, technician_id,
                           location, description, state, created_by, created_at, updated_at, version)
SELECT gen_random_uuid(), md5('company' || (g % {companies}))::uuid,
       md5('client' || ((g % {companies}) + {companies} * ((g / {companies}) % ({clients} / {companies}))))::uuid,
       md5('equipment' || ((g % {companies}) + {companies} * ((g / {companies}) % ({clients} / {companies}))))::uuid,
       md5('type-at_home')::uuid,
       md5('technician' || ((g % {companies}) + {companies} * ((g / {companies}) % 15)))::uuid,
       'at_home', 'Bench home ' || g, 'open', 'bench', now() - interval '200 days',
       now() - interval '200 days', 1
FROM generate_series(0, 100 * {companies} - 1) g;

-- the visits of company {company} (n < {visits}) then of the others; each of an at_home
-- intervention of its company, its client and technician
WITH homes AS (
  SELECT id, company_id, client_id, technician_id, type_id,
         row_number() OVER (PARTITION BY company_id ORDER BY id) - 1 AS k,
         count(*) OVER (PARTITION BY company_id) AS n
  FROM interventions WHERE description LIKE 'Bench home %'
), wanted AS (
  SELECT g, CASE WHEN g < {visits} THEN {company} ELSE (g % ({companies} - 1) + {company} + 1) % {companies} END AS c,
         ((hashint4(g) & 2147483647)::float8 / 2147483648.0) AS h
  FROM generate_series(0, {visits} + {others} - 1) g
), placed AS (
  SELECT w.g, w.h, i.*,
         now() - interval '120 days' + (w.h * interval '150 days') AS start_at,
         CASE WHEN w.h > 0.8 THEN 'planned'            -- mostly still to do
              WHEN w.g % 3 = 0 THEN 'validated'
              ELSE (ARRAY['planned', 'done', 'done', 'disputed', 'arbitration'])[1 + w.g % 5] END AS state
  FROM wanted w JOIN homes i ON i.company_id = md5('company' || w.c)::uuid
   AND i.k = w.g % i.n
)
INSERT INTO visits (id, intervention_id, company_id, client_id, technician_id, type_id, contract_id,
                    state, start_at, end_at, km, comment, state_since, waiting_since, declared_at,
                    declared_by, validated_at, validated_by, validation_mode, created_by, created_at,
                    updated_at, version)
SELECT gen_random_uuid(), id, company_id, client_id, technician_id, type_id,
       md5('contract' || (SELECT substr(c.name, 8) FROM clients c WHERE c.id = placed.client_id))::uuid,
       state, start_at, start_at + interval '2 hours',
       CASE WHEN state <> 'planned' THEN round((g % 400)::numeric / 10, 1) END,
       CASE WHEN state <> 'planned' THEN 'Bench visit ' || g END,
       start_at + interval '3 hours',
       CASE WHEN state = 'planned' THEN start_at + interval '2 hours'
            WHEN state = 'validated' THEN NULL ELSE start_at + interval '3 hours' END,
       CASE WHEN state <> 'planned' THEN start_at + interval '3 hours' END,
       CASE WHEN state <> 'planned' THEN 'bench' END,
       CASE WHEN state = 'validated' THEN start_at + interval '1 day' END,
       CASE WHEN state = 'validated' THEN 'bench' END,
       CASE WHEN state = 'validated' THEN 'client' END,
       'bench', start_at - interval '7 days', start_at + interval '3 hours',
       CASE WHEN state = 'planned' THEN 1 ELSE 2 END
FROM placed;
"""


def seed(database_url, visits, others):
    import sqlalchemy as sa
    from fieldwork_common.db import engine_url
    bench_list.seed(database_url, 20_000)
    engine = sa.create_engine(engine_url(database_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            t0 = time.monotonic()
            with conn.connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit = off")
                cursor.execute(VISITS_SQL.format(companies=bench_list.COMPANIES,
                                                 clients=bench_list.CLIENTS, company=3,
                                                 visits=visits, others=others))
            conn.exec_driver_sql("VACUUM ANALYZE")
            conn.exec_driver_sql("CHECKPOINT")
            rows = conn.exec_driver_sql(
                "SELECT company_id = md5('company3')::uuid, state, count(*) FROM visits "
                "GROUP BY 1, 2 ORDER BY 1 DESC, 2").all()
            print(f"seeded visits in {time.monotonic() - t0:.0f}s:", flush=True)
            for mine, state, count in rows:
                print(f"  {'company 3' if mine else 'others':<10} {state:<12} {count:>7,}")
    finally:
        engine.dispose()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visits", type=int, default=10_000, help="visits of the manager's company")
    parser.add_argument("--others", type=int, default=40_000, help="visits of the other companies")
    parser.add_argument("--requests", type=int, default=300, help="measured requests per scenario")
    parser.add_argument("--warmup", type=int, default=20, help="unrecorded requests per scenario")
    parser.add_argument("--batches", type=int, default=10, help="batch validations of 100 visits")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import requests

    with bench_list.bench_platform(rpc_timeout=30) as (isolation, platform):
        seed(isolation.database_url("interventions"), args.visits, args.others)

        company, technician = md5_uuid("company3"), md5_uuid("technician43")
        base = platform.base_url
        admin_token = login(base, bench_list.ADMIN_EMAIL, bench_list.ADMIN_PASSWORD)
        admin = Caller(base, admin_token)
        manager = make_user(base, admin_token, "manager", company_id=company)

        _, first = manager.get("/validation-board?limit=50")
        cursor = first["next_cursor"]
        for _ in range(20):      # a page deep in the board
            _, page = manager.get(f"/validation-board?limit=50&after={cursor}")
            cursor = page["next_cursor"] or cursor
        print(f"board of company 3: {first['totals']}", flush=True)

        scenarios = [
            ("manager", manager, "board, first page + totals", "/validation-board"),
            ("manager", manager, "board, waiting for the client", "/validation-board?waiting_for=client"),
            ("manager", manager, "board, one technician", f"/validation-board?technician_id={technician}"),
            ("manager", manager, "board, page 21", f"/validation-board?after={cursor}"),
            ("admin", admin, "board, all companies", "/validation-board"),
            ("admin", admin, "board, company 3", f"/validation-board?company_id={company}"),
            ("manager", manager, "GET /visits (reference)", "/visits"),
        ]
        print(f"\n{args.visits:,} visits in company 3, {args.others:,} elsewhere; "
              f"{args.requests} requests per row after {args.warmup} unrecorded, one at a time")
        header = (f"{'caller':<8} {'scenario':<32} {'items':>5} {'p50 ms':>7} {'p95 ms':>7} "
                  f"{'p99 ms':>7} {'max ms':>7}")
        print(header)
        print("-" * len(header), flush=True)
        p99 = {}
        for who, caller, name, path in scenarios:
            latencies, body = measure(caller, path, args.requests, args.warmup)
            p99[name] = percentile(latencies, 0.99)
            print(f"{who:<8} {name:<32} {len(body['items']):>5} {percentile(latencies, 0.5):>7.1f} "
                  f"{percentile(latencies, 0.95):>7.1f} {p99[name]:>7.1f} {latencies[-1]:>7.1f}",
                  flush=True)
        ratio = p99["board, first page + totals"] / p99["GET /visits (reference)"]
        print(f"\nboard first page / GET /visits, p99: {ratio:.2f}x")

        t0 = time.perf_counter()
        response = manager.session.get(base + "/validation-board.csv", timeout=120)
        csv_s = time.perf_counter() - t0
        assert response.status_code == 200, response.text[:300]
        print(f"CSV of company 3's board: {response.text.count(chr(10)) - 1:,} rows, "
              f"{len(response.content) / 1e6:.1f} MB in {csv_s:.2f}s", flush=True)

        # batches of done visits, validated in the clients' place
        done = []
        after = None
        while len(done) < BATCH * args.batches:
            _, page = manager.get("/validation-board?waiting_for=client&limit=200"
                                  + (f"&after={after}" if after else ""))
            done += [item["id"] for item in page["items"]]
            after = page["next_cursor"]
            if after is None:
                break
        timings = []
        for k in range(min(args.batches, len(done) // BATCH)):
            ids = done[k * BATCH:(k + 1) * BATCH]
            t0 = time.perf_counter()
            answer = requests.post(base + "/visits/validate-batch", json={"visit_ids": ids},
                                   headers=manager.session.headers, timeout=120)
            timings.append((time.perf_counter() - t0) * 1000)
            assert answer.status_code == 200 and answer.json()["validated"] == BATCH, answer.text[:300]
        timings.sort()
        print(f"batch validation of {BATCH} visits: {len(timings)} batches, p50 "
              f"{percentile(timings, 0.5):.0f} ms, max {timings[-1]:.0f} ms "
              f"({percentile(timings, 0.5) / BATCH:.1f} ms per visit)", flush=True)
        board = [v for k, v in p99.items() if k.startswith("board")]
        verdict = "met" if max(board) < TARGET_P99_MS else "MISSED"
        print(f"\ntarget p99 < {TARGET_P99_MS:.0f} ms for a board page: {verdict} "
              f"(worst {max(board):.1f} ms)")


if __name__ == "__main__":
    main()
