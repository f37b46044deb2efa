"""``make bench``: paybridge against the floor, in one run, on PostgreSQL.

Creates a scratch database, migrates it, starts paybridge (one uvicorn worker, background jobs
off) and the floor service (``bench/floor.py``: validation + one INSERT via raw asyncpg), loads
each with ``wrk`` (32 connections, 20 s after a 5 s warm-up), then drains 20,000 webhook events
through the dispatcher to a local receiver. Prints requests/s, p50, p99, the ratio to the floor
and the worker's memory growth, checks each target, drops the database. Loopback only.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import fixtures  # noqa: E402

PG_ADMIN = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_DB", "paybridge_bench")
DSN = f"{PG_ADMIN}/{DB_NAME}"
CONNECTIONS, THREADS = 32, 2
DURATION = int(os.environ.get("BENCH_SECONDS", "20"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "5"))
EVENTS = 20_000
PYTHON = sys.executable
TARGETS = {"create": 0.35, "callback": 0.35, "get": 0.5}
CREATE_P99_MS, MEMORY_GROWTH, DELIVERIES_PER_S = 50.0, 0.10, 500.0


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int
    memory_growth: float | None = None
    rss_mb: tuple[float, float] | None = None
    raw: dict[str, object] = field(default_factory=dict)


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("bench: wrk not found; installing it (apt-get install -y wrk)", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, stdout=subprocess.DEVNULL)
        found = shutil.which("wrk")
    if not found:
        raise SystemExit(
            "bench: wrk is required: install it with `sudo apt-get install -y wrk` (Debian/Ubuntu)"
        )
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def psql(sql: str, db: str = "postgres") -> None:
    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(f"{PG_ADMIN}/{db}")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


def wait_http(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"bench: {url} did not come up within {seconds:g} s")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class RssSampler:
    """VmRSS of one process every 0.5 s, from /proc (no psutil)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.samples = pid, list[tuple[float, int]]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.is_set():
            self.samples.append((time.monotonic() - start, rss_kb(self.pid)))
            self._stop.wait(0.5)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def growth(self, window: float = 10.0) -> tuple[float, float, float]:
        """(mean RSS MB of the first ``window`` s, of the last ``window`` s, relative growth)."""
        end = self.samples[-1][0]
        first = [kb for t, kb in self.samples if t < window]
        last = [kb for t, kb in self.samples if t >= end - window]
        a, b = sum(first) / len(first) / 1024, sum(last) / len(last) / 1024
        return a, b, b / a - 1


def wrk(url: str, script: str, args: list[str], seconds: int) -> dict[str, object]:
    command = [
        ensure_wrk(),
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(ROOT / "bench" / script),
        url,
        "--",
        *args,
    ]
    env = {**os.environ, "BENCH_DIR": str(ROOT / "bench")}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=seconds + 60, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data: dict[str, object] = json.loads(line.removeprefix("BENCH_JSON "))
            return data
    raise SystemExit(f"bench: wrk failed ({done.returncode}): {done.stdout[-500:]} {done.stderr[-500:]}")


def load(name: str, url: str, script: str, args: Callable[[str], list[str]], pid: int | None) -> Result:
    """Warm up, then the measured run (RSS sampled when ``pid`` is given)."""
    wrk(url, script, args("w"), WARMUP)
    if pid is None:
        raw = wrk(url, script, args("m"), DURATION)
        growth = None
    else:
        with RssSampler(pid) as sampler:
            raw = wrk(url, script, args("m"), DURATION)
        growth = sampler.growth()
    seconds = int(raw["duration_us"]) / 1e6  # type: ignore[call-overload]
    errors = sum(int(raw[k]) for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))  # type: ignore[call-overload]
    bad = int(raw["bad"]) + errors  # type: ignore[call-overload]
    result = Result(
        name,
        int(raw["requests"]) / seconds,
        int(raw["p50_us"]) / 1000,
        int(raw["p99_us"]) / 1000,  # type: ignore[call-overload]
        int(raw["requests"]),
        bad,
        growth[2] if growth else None,  # type: ignore[call-overload]
        (growth[0], growth[1]) if growth else None,
        raw,
    )
    print(
        f"  {name:<9} {result.rps:8.0f} req/s  p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms"
        + (f"  RSS {growth[0]:.0f}→{growth[1]:.0f} MB" if growth else "")
        + (f"  BAD {bad}: {raw['bad_sample']}" if bad else ""),
        flush=True,
    )
    return result


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def main() -> int:
    ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="paybridge-bench-"))
    app_port, floor_port, receiver_port = free_port(), free_port(), free_port()
    base, floor_url = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{floor_port}"
    env = {
        **os.environ,
        "PAYBRIDGE_DATABASE_URL": DSN,
        "PAYBRIDGE_ADMIN_TOKEN": fixtures.ADMIN_TOKEN,
        "PAYBRIDGE_SANDBOX": "true",
        "PAYBRIDGE_RUN_WORKERS": "false",
        "PAYBRIDGE_PUBLIC_BASE_URL": base,
        "PAYBRIDGE_ENV": "development",
        "FLOOR_DSN": DSN,
        "PYTHONPATH": str(ROOT),
    }
    processes: list[subprocess.Popen[bytes]] = []
    print(f"bench: PostgreSQL database {DB_NAME}, logs in {work}", flush=True)
    psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql(f"CREATE DATABASE {DB_NAME}")
    try:
        subprocess.run(
            [PYTHON, "-m", "app", "migrate"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
        )
        server = spawn([PYTHON, "-m", "app", "serve", "--port", str(app_port)], env, work / "server.log")
        floor = spawn(
            [
                PYTHON,
                "-m",
                "uvicorn",
                "bench.floor:app",
                "--port",
                str(floor_port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env,
            work / "floor.log",
        )
        receiver = spawn([PYTHON, "bench/receiver.py", str(receiver_port)], env, work / "receiver.log")
        processes += [server, floor, receiver]
        wait_http(f"{base}/healthz")
        wait_http(f"{floor_url}/docs")
        setup = fixtures.configure(base, f"http://127.0.0.1:{receiver_port}/hooks")
        create_args = lambda run: [f"c{run}", setup.api_key, fixtures.AGENCY, "sandbox"]  # noqa: E731
        floor_args = lambda run: [f"f{run}", setup.api_key, fixtures.AGENCY, "sandbox"]  # noqa: E731

        print(f"bench: wrk -t{THREADS} -c{CONNECTIONS}, {WARMUP} s warm-up + {DURATION} s", flush=True)
        floor_a = load("floor", floor_url, "create.lua", floor_args, None)
        create = load("create", base, "create.lua", create_args, server.pid)

        n_main = int(floor_a.rps * (DURATION + 4)) + 1000
        n_warm = int(floor_a.rps * (WARMUP + 2)) + 500
        attempts = asyncio.run(
            fixtures.clone_vnpay_attempts(DSN, setup.vnpay_template, "ipn", n_warm + n_main)
        )
        fixtures.write_ipn_paths(work / "ipn_w.txt", setup, attempts[:n_warm], 10_000_000)
        fixtures.write_ipn_paths(work / "ipn_m.txt", setup, attempts[n_warm:], 20_000_000)
        callback = load(
            "callback", base, "ipn.lua", lambda run: [str(work / f"ipn_{run}.txt"), str(THREADS)], server.pid
        )

        ids = asyncio.run(fixtures.payment_ids(DSN, "BENCH-cm", 5000))
        (work / "ids.txt").write_text("\n".join(ids) + "\n")
        get = load("get", base, "get.lua", lambda run: [str(work / "ids.txt"), setup.api_key], server.pid)
        floor_b = load("floor", floor_url, "create.lua", lambda run: [f"g{run}", *floor_args(run)[1:]], None)
        stop(server)
        stop(floor)

        due = asyncio.run(fixtures.fill_outbox(DSN, setup.client_id, EVENTS))
        done = subprocess.run(
            [PYTHON, "bench/dispatch.py", "60"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
        if line is None:
            raise SystemExit(f"bench: dispatcher failed: {done.stdout[-500:]} {done.stderr[-1500:]}")
        dispatch = json.loads(line.removeprefix("BENCH_JSON "))
        print(
            f"  dispatch {dispatch['per_second']:8.0f} deliveries/s ({dispatch['delivered']} of {due} due "
            f"in {dispatch['seconds']} s)",
            flush=True,
        )
        return report(floor_a, floor_b, create, callback, get, dispatch, due)
    finally:
        for process in processes:
            stop(process)
        psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def report(
    floor_a: Result,
    floor_b: Result,
    create: Result,
    callback: Result,
    get: Result,
    dispatch: dict[str, object],
    due: int,
) -> int:
    floor_rps = (floor_a.rps + floor_b.rps) / 2
    rows: list[tuple[str, str, str, str, str, str, bool]] = []
    ok = floor_a.bad == 0 and floor_b.bad == 0
    rows.append(
        (
            "floor (validate + 1 INSERT)",
            f"{floor_rps:.0f}",
            f"{floor_a.p50_ms:.1f}",
            f"{floor_a.p99_ms:.1f}",
            "1.00",
            f"{floor_a.rps:.0f} / {floor_b.rps:.0f} (before / after)",
            ok,
        )
    )
    for result in (create, callback, get):
        ratio = result.rps / floor_rps
        passed = ratio >= TARGETS[result.name] and result.bad == 0
        target = f"≥ {TARGETS[result.name]:.2f}"
        if result.name == "create":
            passed = passed and result.p99_ms <= CREATE_P99_MS
            target += f", p99 ≤ {CREATE_P99_MS:.0f} ms"
        if result.memory_growth is not None:
            passed = passed and result.memory_growth < MEMORY_GROWTH
        ok = ok and passed
        assert result.rss_mb is not None and result.memory_growth is not None
        rows.append(
            (
                result.name,
                f"{result.rps:.0f}",
                f"{result.p50_ms:.1f}",
                f"{result.p99_ms:.1f}",
                f"{ratio:.2f}",
                f"{target}; RSS {result.rss_mb[0]:.0f}→{result.rss_mb[1]:.0f} MB "
                f"({result.memory_growth:+.1%})" + (f"; {result.bad} bad" if result.bad else ""),
                passed,
            )
        )
    per_s = float(dispatch["per_second"])  # type: ignore[arg-type]
    passed = per_s >= DELIVERIES_PER_S and dispatch["delivered"] == due
    ok = ok and passed
    rows.append(
        (
            "webhook dispatch",
            f"{per_s:.0f} deliveries/s",
            "",
            "",
            "",
            f"≥ {DELIVERIES_PER_S:.0f}/s; {dispatch['delivered']} of {due} in {dispatch['seconds']} s",
            passed,
        )
    )
    print()
    print("| scenario | req/s | p50 ms | p99 ms | ratio to floor | target and notes | |")
    print("|---|---:|---:|---:|---:|---|---|")
    for *cells, passed in rows:
        print("| " + " | ".join(str(c) for c in cells) + f" | {'PASS' if passed else 'FAIL'} |")
    print()
    print("bench: every target met" if ok else "bench: some targets missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
