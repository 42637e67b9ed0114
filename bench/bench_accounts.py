"""What accounts cost the gateway, measured side by side in one run.

    .venv/bin/python bench/bench_accounts.py   [--rounds 2000] [--logins 20]

Against a scratch accounts database on POSTGRES_URL (created, migrated and
dropped here), in this process:

- per call: verifying the access token alone (the JWT signature, what the
  gateway did before sessions) against verifying it and reading its session
  and user (what every authenticated call does now);
- per login: the Argon2 verification alone against a whole login (throttle
  locks and counters, session and refresh token rows, audit);
- per refresh: a rotation (one token used up, one issued).

Prints medians and ratios; the figures go to docs/performance.md.
"""
import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from fieldwork_common.config import postgres_url, with_database  # noqa: E402
from fieldwork_common.pg import engine_url  # noqa: E402
from fieldwork_gateway.wings.accounts.store import Accounts, Policy, _hasher  # noqa: E402
from fieldwork_gateway.auth import claims_from_header, issue_token  # noqa: E402

SECRET = "bench-secret-of-at-least-thirty-two-bytes"


def timed(fn, rounds):
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000, samples


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--logins", type=int, default=20)
    args = parser.parse_args()
    name = f"fw_bench_accounts_{uuid.uuid4().hex[:8]}"
    url = with_database(postgres_url(), name)
    accounts = Accounts(url, Policy())
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; database {name}", flush=True)
    try:
        accounts.prepare()
        email, password = f"bench-{uuid.uuid4().hex[:6]}@bench.test", "bench-user-password"
        accounts.create_user({"email": email, "role": "manager",
                              "company_id": str(uuid.uuid4())}, password=password)
        tokens = accounts.login(email, password, "127.0.0.1")
        header = "Bearer " + issue_token(tokens.user, SECRET, 900, tokens.session_id)

        def jwt_only():
            claims_from_header(header, SECRET)

        def with_session():
            accounts.principal_for(claims_from_header(header, SECRET))

        for fn in (jwt_only, with_session):
            timed(fn, 200)  # warm the pool and the caches
        results = {}
        # interleaved rounds, so that noise hits both alike
        for _ in range(4):
            for label, fn in (("token signature only", jwt_only),
                              ("signature + session and user read", with_session)):
                results.setdefault(label, []).extend(timed(fn, args.rounds // 4)[1])
        print("\nper authenticated call (median ms)")
        medians = {label: statistics.median(s) * 1000 for label, s in results.items()}
        for label, value in medians.items():
            print(f"  {label:36s} {value:7.3f}")
        added = medians["signature + session and user read"] - medians["token signature only"]
        print(f"  added by the session check          {added:7.3f}")

        stored = _hasher.hash(password)

        def argon2_only():
            _hasher.verify(stored, password)

        def whole_login():
            accounts.login(email, password, "127.0.0.1")
        argon2, _ = timed(argon2_only, args.logins)
        login, _ = timed(whole_login, args.logins)
        wrong, _ = timed(lambda: _failed(accounts, email), 4)   # under the lock threshold
        print("\nper login (median ms)")
        print(f"  Argon2 verification alone            {argon2:7.1f}")
        print(f"  whole login (right password)         {login:7.1f}   ratio {login / argon2:.2f}")
        print(f"  whole login (wrong password)         {wrong:7.1f}")

        state = {"token": accounts.login(email, password, "127.0.0.1").refresh_token}

        def rotate():
            state["token"] = accounts.refresh(state["token"]).refresh_token
        refresh, _ = timed(rotate, args.logins * 5)
        print(f"\nper refresh (median ms)                {refresh:7.2f}")
    finally:
        accounts.engine.dispose()
        server = sa.create_engine(engine_url(url).set(database="postgres"), poolclass=NullPool,
                                  isolation_level="AUTOCOMMIT")
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def _failed(accounts, email):
    from fieldwork_common.errors import Unauthenticated
    try:
        accounts.login(email, "not-the-password", f"198.51.100.{uuid.uuid4().int % 250}")
    except Unauthenticated:
        pass


if __name__ == "__main__":
    main()
