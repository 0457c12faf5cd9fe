"""Requests per second the sample third-party API sustains on loopback.

The server runs a ``SampleApi`` in its own process (API-key auth on, as the pipeline uses it); a
concurrent aiohttp client (keep-alive, 64 connections by default) fetches real get-data pages
spread over many locations, offsets and both data types. Each scenario runs 3 times; the table
shows the median requests/s, the p50/p99 latency of the median run, and the server's CPU time
per request (read from /proc), which shows the server's capacity per core even when other work
shares the machine. The target is >= 2,000 requests/s, so the sample API is never the
bottleneck of end-to-end benchmarks.

    .venv/bin/python bench/bench_sample_api.py [--requests 10000] [--connections 64] [--locations 400]

Writes bench/results/sample_api.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import time
import zlib
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import aiohttp

from toolkit.local.sample_api import AuthConfig, DatasetParams, SampleApi

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "sample_api.json"
API_KEY = "bench-key"
TARGET_RPS = 2000.0


@dataclass
class Run:
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    server_cpu_us_per_request: float


@dataclass
class Scenario:
    name: str
    median_rps: float
    p50_ms: float
    p99_ms: float
    server_cpu_us_per_request: float
    runs: list[Run]


def serve(params: DatasetParams, conn: Connection) -> None:
    """Child process: run the sample API until told to stop."""
    with SampleApi(dataset=params, auth=AuthConfig.api_key(API_KEY)) as api:
        conn.send(api.url)
        conn.recv()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """The sample API in its own process (its own interpreter lock), as the pipeline meets it."""

    def __init__(self, params: DatasetParams):
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.process = context.Process(target=serve, args=(params, child), daemon=True)
        self.process.start()
        if not self._conn.poll(60):
            self.process.kill()
            raise SystemExit("the sample API did not start")
        self.url: str = self._conn.recv()

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self._conn.send("stop")
        self.process.join(30)


async def summaries(url: str, locations: list[str]) -> dict[str, dict[str, int]]:
    async with aiohttp.ClientSession(base_url=url, headers={"x-api-key": API_KEY}) as session:
        out = {}
        for location_id in locations:
            async with session.get(f"/{location_id}/get-summary") as response:
                out[location_id] = (await response.json())["states"]
        return out


def page_paths(sizes: dict[str, dict[str, int]], limit: int) -> list[str]:
    """Every real page of every location, spread over locations the same way every run."""
    pages = [f"/{location_id}/get-data?state={state}&limit={limit}&offset={offset}"
             for location_id, by_state in sizes.items() for state, size in by_state.items()
             for offset in range(0, size, limit)]
    pages.sort(key=lambda p: zlib.crc32(p.encode()))
    return pages


async def run_once(server: Server, paths: list[str], connections: int) -> Run:
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[str] = asyncio.Queue()
    for path in paths:
        queue.put_nowait(path)
    connector = aiohttp.TCPConnector(limit=connections, keepalive_timeout=60)
    async with aiohttp.ClientSession(base_url=server.url, connector=connector,
                                     headers={"x-api-key": API_KEY}) as session:
        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                path = queue.get_nowait()
                t0 = time.perf_counter()
                async with session.get(path) as response:
                    await response.read()
                    errors += response.status != 200
                latencies.append(time.perf_counter() - t0)

        cpu0, started = server.cpu(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        seconds, cpu = time.perf_counter() - started, server.cpu() - cpu0
    latencies.sort()
    n = len(paths)
    return Run(n, errors, round(seconds, 3), round(n / seconds, 1), round(latencies[n // 2] * 1000, 2),
               round(latencies[min(n - 1, int(n * 0.99))] * 1000, 2), round(cpu / n * 1e6, 1))


def scenario(name: str, server: Server, paths: list[str], requests: int, connections: int, repeats: int) -> Scenario:
    paths = [paths[i % len(paths)] for i in range(requests)]
    runs = [asyncio.run(run_once(server, paths, connections)) for _ in range(repeats)]
    median = sorted(runs, key=lambda r: r.rps)[len(runs) // 2]
    return Scenario(name, median.rps, median.p50_ms, median.p99_ms, median.server_cpu_us_per_request, runs)


def capacity(s: Scenario) -> float:
    """Requests/s one core could serve at the measured server CPU cost (0 if not measured)."""
    return 1e6 / s.server_cpu_us_per_request if s.server_cpu_us_per_request else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="requests per run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--locations", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    # cache_chunks=1: every page is generated when asked, as in a pipeline run that fetches
    # each page once; the "cached" scenario repeats a set of pages that fits the default cache.
    scenarios = []
    for cached in (False, True):
        params = DatasetParams(locations=args.locations, **({} if cached else {"cache_chunks": 1}))
        server = Server(params)
        try:
            width = max(3, len(str(args.locations)))
            locations = [f"{params.id_prefix}{i:0{width}d}" for i in range(1, args.locations + 1)]
            sizes = asyncio.run(summaries(server.url, locations))
            kind = "cached" if cached else "generated"
            for limit in ((100,) if cached else (100, 10, 1000)):
                paths = page_paths(sizes, limit)
                if cached:
                    paths = paths[: params.cache_chunks // 2]
                    asyncio.run(run_once(server, paths, args.connections))  # fill the cache
                scenarios.append(scenario(f"get-data limit {limit}, {kind}", server, paths, args.requests,
                                          args.connections, args.repeats))
            if cached:
                summary_paths = [f"/{location_id}/get-summary" for location_id in locations]
                scenarios.append(scenario("get-summary", server, summary_paths, args.requests,
                                          args.connections, args.repeats))
        finally:
            server.stop()

    print(f"sample API on loopback (server in its own process, API-key auth): {args.requests} requests/run, "
          f"{args.connections} connections, {args.locations} locations, median of {args.repeats} runs, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"{'scenario':30} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'server CPU us/req':>18} "
          f"{'req/s per server core':>22} {'errors':>7}  runs (req/s)")
    for s in scenarios:
        errors = sum(r.errors for r in s.runs)
        spread = ", ".join(f"{r.rps:.0f}" for r in s.runs)
        print(f"{s.name:30} {s.median_rps:8.0f} {s.p50_ms:8.2f} {s.p99_ms:8.2f} "
              f"{s.server_cpu_us_per_request:18.1f} {capacity(s):22.0f} {errors:7d}  {spread}")
    main_rps = scenarios[0].median_rps
    verdict = "meets" if main_rps >= TARGET_RPS else "MISSES"
    print(f"target >= {TARGET_RPS:.0f} req/s ({scenarios[0].name}): {verdict} ({main_rps:.0f} req/s measured, "
          f"{capacity(scenarios[0]):.0f} req/s per server core from its CPU time)")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "bench": "sample_api", "target_rps": TARGET_RPS, "meets_target": main_rps >= TARGET_RPS,
        "requests_per_run": args.requests, "connections": args.connections, "locations": args.locations,
        "cpus": os.cpu_count(), "load_average": os.getloadavg()[0], "python": platform.python_version(),
        "scenarios": [{**asdict(s), "rps_per_server_core": round(capacity(s), 1)} for s in scenarios],
    }, indent=2), encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    if any(r.errors for s in scenarios for r in s.runs):
        raise SystemExit("some requests failed")


if __name__ == "__main__":
    main()
