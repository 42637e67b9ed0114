"""What an upload costs: time and the gateway's memory, through the whole
platform (gateway under gunicorn, interventions, a real SeaweedFS).

    AMQP_URI=... POSTGRES_URL=... .venv/bin/python bench/bench_files.py [--rounds 3]

Starts its own vhost, databases and SeaweedFS (dropped at the end), the
platform with one gunicorn worker (so that its memory is the one measured),
and uploads as the admin: a 25 MiB PDF (the default limit), a 25 MiB MP4,
and a 24-megapixel JPEG photo (whose thumbnail and client copy are made);
then reads the PDF back. Prints the median time of each, and the worker's
resident memory before and its peak (VmHWM) after each kind.
The figures go to docs/files.md.
"""
import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]

from fieldwork_common.testing import servers as servers_mod  # noqa: E402
from fieldwork_common.testing.platform import ALL_SERVICES, LocalPlatform  # noqa: E402
from fieldwork_common.testing.seaweed import SeaweedFS  # noqa: E402
from fieldwork_common.testing.smtp import SmtpSink, free_port  # noqa: E402

MiB = 1024 * 1024


def status_kb(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def worker_pid(master_pid):
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return int(children[0])


def samples():
    from PIL import Image
    pdf = b"%PDF-1.7\n" + b"%" * (25 * MiB - 15) + b"\n%%EOF"
    mp4 = (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"
           + os.urandom(25 * MiB - 32))
    image = Image.effect_noise((6000, 4000), 60).convert("RGB")  # 24 MP, incompressible-ish
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return {"document": ("big.pdf", pdf), "video": ("clip.mp4", mp4),
            "photo": ("photo.jpg", out.getvalue())}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    servers = servers_mod.resolve()
    isolation = servers_mod.Isolation.create(servers)
    smtp = SmtpSink().start()
    weed = SeaweedFS(tempfile.mkdtemp(prefix="bench-seaweed-")).start()
    log_dir = REPO / "var" / "bench-logs" / isolation.run_id
    env = {**isolation.environment(ALL_SERVICES), **weed.environment(),
           "SMTP_HOST": smtp.host, "SMTP_PORT": str(smtp.port), "GATEWAY_HOST": "127.0.0.1",
           "GATEWAY_WORKERS": "1", "GATEWAY_THREADS": "8", "JWT_SECRET": "b" * 40,
           "ADMIN_EMAIL": "admin@bench.test", "ADMIN_PASSWORD": "bench-admin-password",
           "RPC_TIMEOUT": "30"}
    platform = LocalPlatform(env=env, log_dir=log_dir, gateway_port=free_port())
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}", flush=True)
    try:
        platform.start(timeout=120)
        base = platform.base_url
        token = requests.post(base + "/auth/token", json={
            "email": "admin@bench.test", "password": "bench-admin-password"}).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        company = requests.post(base + "/companies", json={"name": "Bench"}, headers=auth).json()
        worker = worker_pid(platform.processes["gateway"].popen.pid)
        print(f"gateway worker {worker}: {status_kb(worker, 'VmRSS') / 1024:.0f} MiB resident "
              "after start", flush=True)
        last = None
        for kind, (name, data) in samples().items():
            before = status_kb(worker, "VmRSS")
            times = []
            for _ in range(args.rounds):
                started = time.perf_counter()
                response = requests.post(base + "/files", headers=auth,
                                         data={"kind": kind, "company_id": company["id"]},
                                         files={"file": (name, data)}, timeout=120)
                times.append(time.perf_counter() - started)
                assert response.status_code == 201, response.text
                last = response.json() if kind == "document" else last
            print(f"{kind:8} {len(data) / MiB:5.1f} MiB: median {statistics.median(times):.2f} s "
                  f"({len(data) / MiB / statistics.median(times):.0f} MiB/s); worker RSS "
                  f"{before / 1024:.0f} MiB before, peak so far {status_kb(worker, 'VmHWM') / 1024:.0f} MiB",
                  flush=True)
        times = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            body = requests.get(base + f"/files/{last['id']}", headers=auth, timeout=120).content
            times.append(time.perf_counter() - started)
            assert len(body) == last["size"]
        print(f"download 25.0 MiB: median {statistics.median(times):.2f} s; worker peak "
              f"{status_kb(worker, 'VmHWM') / 1024:.0f} MiB", flush=True)
    finally:
        platform.stop()
        weed.stop()
        smtp.stop()
        isolation.destroy()


if __name__ == "__main__":
    sys.exit(main())
