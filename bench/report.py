"""The report of a bench run: results/<date>.json (everything), results/<date>.md (the summary
with the targets met or missed) and results/<date>.png (latency percentiles vs concurrency)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["evaluate_targets", "write_report"]


def _get(results: dict[str, Any], *path: str | int) -> Any:
    node: Any = results
    for step in path:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _row_at(rows: list[dict[str, Any]] | None, in_flight: int) -> dict[str, Any] | None:
    return next((r for r in rows or [] if r.get("in_flight") == in_flight), None)


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue 7 with the measured value and whether it is met (None: not measured)."""
    grpc = results.get("grpc", {})
    at_one = _row_at(grpc.get("sidecar"), 1)
    check_rt = _get(results, "round_trips", "CheckQuota")
    record_rt = _get(results, "round_trips", "RecordUsage")
    targets: list[tuple[str, str, Any, Any]] = [
        *(
            (f"{rpc} QPS / one-PING floor at 64 in flight", ">= 0.80",
             _get(grpc, "rpcs", rpc, "over_floor", "64"), lambda v: v >= 0.8)
            for rpc in ("CheckQuota", "RecordUsage", "GetUsage")
        ),
        *(
            (f"{rpc} mean latency at 1 in flight minus the floor's (ms)", "<= 0.30",
             _get(grpc, "rpcs", rpc, "mean_ms_over_floor", "1"), lambda v: v <= 0.3)
            for rpc in ("CheckQuota", "RecordUsage", "GetUsage")
        ),
        ("engine check in-process / raw EVALSHA", ">= 0.70",
         _get(results, "engine", "engine_over_evalsha"), lambda v: v >= 0.7),
        ("engine record in-process / raw EVALSHA", ">= 0.70",
         _get(results, "engine", "record_over_evalsha"), lambda v: v >= 0.7),
        ("engine get_usage in-process / raw EVALSHA", ">= 0.70",
         _get(results, "engine", "usage_over_evalsha"), lambda v: v >= 0.7),
        ("CheckQuota QPS / no-op ceiling at 64 in flight", ">= 0.80",
         _get(grpc, "sidecar_over_noop", "64"), lambda v: v >= 0.8),
        ("CheckQuota p99 at 1 in flight (ms)", "<= 1.5",
         at_one and at_one["p99_ms"], lambda v: v <= 1.5),
        ("Redis commands per CheckQuota", "== 1",
         check_rt and check_rt["commands_per_call"], lambda v: abs(v - 1) < 0.01),
        ("Redis commands per RecordUsage", "== 1",
         record_rt and record_rt["commands_per_call"], lambda v: abs(v - 1) < 0.01),
        ("ours / best `limits` strategy (checks/s)", ">= 2.0",
         _get(results, "peer", "ours_over_best_limits"), lambda v: v >= 2.0),
        ("Redis bytes per active subject (config + state)", "<= 1024",
         _get(results, "memory", "bytes_per_subject_total"), lambda v: v <= 1024),
        ("Redis bytes per active subject (state of checks + records only)", "<= 1024",
         _get(results, "memory", "bytes_per_subject_state"), lambda v: v <= 1024),
        ("Redis CPU per seed check / INCRBY+EXPIRE x 5, saturated (back to back)", "<= 3",
         _get(results, "redis_cost", "check_cpu_over_fixed_saturated"), lambda v: v <= 3),
        ("Redis CPU per seed check / INCRBY+EXPIRE x 5, both paced 1 ms apart", "<= 3",
         _get(results, "redis_cost", "check_cpu_over_fixed_paced_1ms"), lambda v: v <= 3),
        ("Redis CPU per seed check / INCRBY+EXPIRE x 5, one at a time (unequal pacing)", "<= 3",
         _get(results, "redis_cost", "check_cpu_over_fixed"), lambda v: v <= 3),
        ("Redis bytes kept per keyed record (24 h dedupe)", "<= 64",
         _get(results, "redis_cost", "keyed_record", "bytes_kept"), lambda v: v <= 64),
        ("fleet of 4: checks admitted beyond the hot subject's limit", "== 0",
         _get(results, "fleet", "over_admitted"), lambda v: v == 0),
        ("fleet of 4, leases on: checks admitted beyond the hot subject's limit", "== 0",
         _get(results, "fleet", "leases_on", "over_admitted"), lambda v: v == 0),
        ("fleet of 4, leases on: Redis calls (scripts) per 1000 decisions on a hot subject",
         "<= 50", _get(results, "fleet", "leases_on", "script_calls_per_1000_decisions"),
         lambda v: v <= 50),
        ("fleet of 4, leases on, limit never reached: Redis calls (scripts) per 1000 decisions",
         "<= 50", _get(results, "fleet", "unbound_on", "script_calls_per_1000_decisions"),
         lambda v: v <= 50),
        ("Alert delivery p99 across replicas (ms)", "<= 100",
         _get(results, "alerts", "p99_ms") if _get(results, "alerts", "samples") else None,
         lambda v: v <= 100),
    ]  # fmt: skip
    return [
        {
            "target": name,
            "goal": goal,
            "measured": value,
            "met": None if value is None else ok(value),
        }
        for name, goal, value, ok in targets
    ]


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _plot(results: dict[str, Any], path: Path) -> bool:
    grpc = results.get("grpc", {})
    if not grpc.get("sidecar"):
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lat, qps) = plt.subplots(1, 2, figsize=(12, 4.5))
    styles = {"sidecar": "-", "floor": ":", "noop": "--"}
    colors = {"p50_ms": "tab:blue", "p99_ms": "tab:orange", "p999_ms": "tab:red"}
    for name, style in styles.items():
        rows = grpc.get(name) or []
        xs = [r["in_flight"] for r in rows]
        for key, color in colors.items():
            label = f"{name} {key.removesuffix('_ms')}"
            lat.plot(xs, [r[key] for r in rows], style, marker="o", color=color, label=label)
        qps.plot(xs, [r["qps"] for r in rows], style, marker="o", color="black", label=name)
    lat.set(xscale="log", yscale="log", xlabel="calls in flight", ylabel="latency (ms)",
            title="CheckQuota latency (solid: sidecar, dotted: floor, dashed: no-op)")  # fmt: skip
    lat.axhline(1.5, color="grey", linewidth=0.8, linestyle=":")
    qps.set(xscale="log", xlabel="calls in flight", ylabel="calls/s", title="CheckQuota throughput")
    for axis in (lat, qps):
        axis.set_xticks(xs, [str(x) for x in xs])
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _rpc_table(rpc: str, section: dict[str, Any]) -> list[str]:
    """One RPC on the sidecar, the one-PING floor and the no-op server, level by level."""
    title = f"## {rpc} over gRPC: sidecar vs one-PING floor vs no-op"
    if "error" in section:
        return ["", title, "", f"Not measured: {section['error']}."]
    lines = [
        "", title, "",
        "| in flight | QPS sidecar / floor / no-op | sidecar/floor | sidecar/no-op "
        "| mean ms sidecar / floor / no-op | p99 ms sidecar / floor / no-op "
        "| sidecar CPU s | EVALSHA/call |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]  # fmt: skip
    for a, f, b in zip(section["sidecar"], section["floor"], section["noop"], strict=True):
        lines.append(
            f"| {a['in_flight']} | {a['qps']:,.0f} / {f['qps']:,.0f} / {b['qps']:,.0f} "
            f"| {a['qps'] / f['qps']:.2f} | {a['qps'] / b['qps']:.2f} "
            f"| {a['mean_ms']:.2f} / {f['mean_ms']:.2f} / {b['mean_ms']:.2f} "
            f"| {a['p99_ms']:.2f} / {f['p99_ms']:.2f} / {b['p99_ms']:.2f} "
            f"| {a['server_cpu_s']:.2f} | {a['script_calls_per_request']:.2f} |"
        )
    return lines


def _markdown(results: dict[str, Any], png_name: str | None) -> str:
    meta = results["meta"]
    lines = [
        f"# quota-sidecar bench, {meta['date']}",
        "",
        f"Machine: {meta['cpus']} CPUs, Python {meta['python']}, Redis {meta['redis_version']}, "
        f"grpcio {meta['grpcio']}; loader: {meta['loader']}. {meta['repeats']} runs of "
        f"{meta['seconds']} s per point after warm-up; medians reported. "
        f"Whole run: {meta['elapsed_s']:.0f} s. 1-minute load average at start "
        f"{meta['load_average_at_start']:.2f}, at end {meta['load_average_at_end']:.2f} (above "
        "about 1 on this machine means other work shared the cores with the bench). "
        "Reproduce with `make bench`.",
        "",
        "## Targets",
        "",
        "| target | goal | measured | met |",
        "| --- | --- | --- | --- |",
    ]
    for t in results["targets"]:
        met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        lines.append(f"| {t['target']} | {t['goal']} | {_fmt(t['measured'])} | {met} |")
    lines += ["", *results.get("findings", []), ""]
    if results.get("analysis"):
        lines += ["## Analysis (added by hand after this run; profiles with cProfile)", "",
                  *results["analysis"], ""]  # fmt: skip
    grpc = results.get("grpc", {})
    for rpc, section in grpc.get("rpcs", {}).items():
        lines += _rpc_table(rpc, section)
        if rpc == "CheckQuota" and png_name and "sidecar" in section:
            lines += ["", f"![latency percentiles vs concurrency]({png_name})"]
    workers = grpc.get("workers", {})
    if "2" in workers:
        lines += [
            "",
            f"`serve --workers 2` CheckQuota at 64 in flight: {workers['2']['qps']:,.0f} QPS vs "
            f"{workers['1']['qps']:,.0f} with one process (x{workers['speedup']:.2f}).",
        ]
    elif "error" in workers:
        lines += ["", f"`serve --workers 2`: not measured ({workers['error']})."]
    for key, title, pairs in (
        ("engine", "c. Engine in-process vs raw EVALSHA (store ceiling)",
         (("engine", "QuotaService.check_quota (user + tool)"),
          ("record", "QuotaService.record_usage (user + tool)"),
          ("usage", "QuotaService.get_usage (user)"),
          ("evalsha", "EVALSHA `return 1`"))),
        ("peer", "d. Engine vs the `limits` library (minute/hour/day)",
         (("ours", "ours: 3 windows + 2 budgets, 1 script call"),
          ("limits_moving_window", "limits moving window, 3 hits"),
          ("limits_sliding_window_counter", "limits sliding-window counter, 3 hits"))),
    ):  # fmt: skip
        section = results.get(key)
        if not section or "error" in section:
            continue
        lines += ["", f"## {title}", "", f"{section['concurrency']} calls in flight, one process.",
                  "", "| contender | checks/s | p50 ms | p99 ms | bench CPU s | Redis CPU s |",
                  "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
        for name, label in pairs:
            r = section[name]
            lines.append(
                f"| {label} | {r['ops_per_s']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                f"{r['bench_cpu_s']:.2f} | {r['redis_cpu_s']:.2f} |"
            )
        ratios = [f"{k} = {v:.2f}" for k, v in section.items() if "_over_" in k]
        lines += ["", "Ratios: " + ", ".join(ratios) + "."]
        fallbacks = section.get("engine_not_allowed_or_fallback")
        if fallbacks:
            lines += ["", f"{fallbacks} engine checks were not plain allowed answers (decided "
                      "without the store after the 50 ms store timeout, or denied)."]  # fmt: skip
    alerts = results.get("alerts")
    if alerts and "error" not in alerts:
        lines += ["", "## f. Alert delivery (RecordUsage on A to StreamAlerts on B)", "",
                  f"{alerts['samples']} crossings ({alerts['lost']} lost): p50 "
                  f"{alerts['p50_ms']:.1f} ms, p99 {alerts['p99_ms']:.1f} ms, max "
                  f"{alerts['max_ms']:.1f} ms from the call; from the RecordUsage response: p50 "
                  f"{alerts['after_response_p50_ms']:.1f} ms, p99 "
                  f"{alerts['after_response_p99_ms']:.1f} ms."]  # fmt: skip
    rt = results.get("round_trips")
    if rt and "error" not in rt:
        lines += ["", f"## g. Redis commands per RPC ({rt['calls']} sequential calls each)", ""]
        for name in ("CheckQuota", "RecordUsage", "GetUsage"):
            if name in rt:
                lines.append(
                    f"- {name}: {rt[name]['commands_per_call']} ({rt[name]['by_command']})"
                )
    mem = results.get("memory")
    if mem and "error" not in mem:
        lines += ["", f"## g. Redis memory for {mem['subjects']:,} active subjects", "",
                  f"- config: {mem['bytes_per_subject_config']:.0f} B/subject; state after a check "
                  f"and a record: {mem['bytes_per_subject_state']:.0f} B/subject; total "
                  f"{mem['bytes_per_subject_total']:.0f} B/subject ({mem['keys']:,} keys).",
                  f"- one subject's keys (MEMORY USAGE): {mem['one_subject_keys']}",
                  f"- shared keys: {mem['shared_keys']}"]  # fmt: skip
    hist = results.get("history")
    if hist and "error" not in hist:
        lines += ["", f"## h. Usage history: {hist['subjects']:,} subjects over {hist['days']} "
                  "quota days (the clock moved a day at a time)", "",
                  f"- per active subject per day of retention: "
                  f"{hist['bytes_per_subject_day']:.0f} B (the day rollup "
                  f"{hist['bytes_per_subject_day_rollup']:.0f} B with a provider, tool and model; "
                  f"its member in the day's top-spender set "
                  f"{hist['bytes_per_subject_day_top_set']:.0f} B), by MEMORY USAGE.",
                  f"- per subject per month kept: {hist['bytes_per_subject_month']:.0f} B; the "
                  f"default retention (91 days + 13 months) is "
                  f"{hist['bytes_per_subject_default_retention'] / 1024:.1f} KiB per subject "
                  "active every day.",
                  f"- used_memory grew {hist['used_memory_delta_per_subject_day']:.0f} B per "
                  "subject-day (with the budget's own hashes and idempotency keys); "
                  f"{hist['records_per_second']:,} records/s in-process."]  # fmt: skip
    lines += _decision_cost_lines(results.get("redis_cost"))
    lines += _fleet_lines(results.get("fleet"))
    lines += _defaults_lines(results.get("defaults"))
    errors = [
        f"- {k}: {v['error']}" for k, v in results.items() if isinstance(v, dict) and "error" in v
    ]
    if errors:
        lines += ["", "## Scenarios that failed", "", *errors]
    return "\n".join(lines) + "\n"


def _decision_cost_lines(cost: dict[str, Any] | None) -> list[str]:
    if not cost or "error" in cost:
        return []
    lines = ["", f"## i. Redis cost per decision ({cost['calls']} calls each, one at a time)", "",
             "| call | Redis commands | command us | Redis CPU us | Redis bytes kept |",
             "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for name, label in (("check", "check (user 3 windows + 2 budgets, tool 2 windows + "
                         "per-request)"), ("keyed_record", "keyed record (24 h dedupe)"),
                        ("fixed_windows", "INCRBY + EXPIRE x 5 limits, pipelined")):  # fmt: skip
        r = cost[name]
        lines.append(f"| {label} | {r['commands']:.1f} | {r['command_us']:.1f} | "
                     f"{r['redis_cpu_us']:.1f} | {r['bytes_kept']:.0f} |")  # fmt: skip
    lines += ["", f"Check / fixed windows: Redis CPU x{cost['check_cpu_over_fixed']:.1f}, "
              f"command time x{cost['check_command_time_over_fixed']:.1f}, commands "
              f"x{cost['check_commands_over_fixed']:.1f}. Keyed record / fixed windows: Redis CPU "
              f"x{cost['keyed_record_cpu_over_fixed']:.1f}, command time "
              f"x{cost['keyed_record_command_time_over_fixed']:.1f}. The keyed record's dedupe "
              f"buckets grew {cost['keyed_record']['dedupe_bytes']:.1f} B per record "
              "(MEMORY USAGE)."]  # fmt: skip
    return lines


def _fleet_lines(fleet: dict[str, Any] | None) -> list[str]:
    if not fleet or "error" in fleet:
        return []
    lines = _fleet_run_lines(fleet, "Leases off")
    lines[1:1] = [f"## j. A fleet: {fleet['sidecars']} `quota-sidecar serve` processes on one "
                  "Redis, one hot tool subject plus each process's own users", ""]  # fmt: skip
    for key, title in (
        ("leases_on", "Leases on (`lease: auto`)"),
        ("unbound_off", "Leases off, a hot limit that never binds"),
        ("unbound_on", "Leases on, a hot limit that never binds"),
    ):
        if key in fleet:
            lines += _fleet_run_lines(fleet[key], title)
    return lines


def _fleet_run_lines(fleet: dict[str, Any], title: str) -> list[str]:
    return ["", f"{title}: "
            f"{fleet['in_flight']} checks in flight for {fleet['seconds']:.1f} s after a "
            f"{fleet.get('warmup_seconds', 0):.1f} s warm-up: "
            f"{fleet['decisions_per_s']:,.0f} decisions/s, "
            f"{fleet.get('script_calls_per_1000_decisions', 0):,.1f} Redis calls (scripts: "
            f"round trips) and {fleet['redis_calls_per_1000_decisions']:,.0f} Redis commands "
            "(scripts' own included) per 1000 decisions, "
            f"{fleet['redis_cpu_us_per_decision']:.1f} us of Redis CPU per decision. The hot "
            f"tool allows {fleet['hot_limit_per_minute']} a minute: {fleet['admitted']} of "
            f"{fleet['decisions']} checks admitted, {fleet['over_admitted']} beyond the limit "
            f"(limit reached: {'yes' if fleet['limit_reached'] else 'no'}; "
            f"{fleet['decided_without_store']} decided without the store, "
            f"{fleet['errors']} refused with an error status)."]  # fmt: skip


def _defaults_lines(found: dict[str, Any] | None) -> list[str]:
    if not found or "error" in found:
        return []
    return ["", "## k. Scope defaults: what `user:*` costs in Redis", "",
            f"- {found['idle_identifiers']:,} identifiers that never made a call, resolved under "
            f"`user:*`: {found['idle_bytes_total']:,} B in all over the empty store (the "
            f"default's own keys, {found['idle_keys']} keys); resolving them all changed "
            f"used_memory by {found['idle_bytes_resolving']:+,} B: nothing per identifier.",
            f"- {found['active_identifiers']:,} identifiers after one record each: "
            f"{found['bytes_per_identifier_under_default']:.0f} B/identifier under the default, "
            f"{found['bytes_per_identifier_registered']:.0f} B/identifier registered one by one "
            "(their own quota, its audit entry, event and index member, then the same "
            "record)."]  # fmt: skip


def write_report(results: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stem = results["meta"]["date"]
    results["targets"] = evaluate_targets(results)
    png = folder / f"{stem}.png"
    plotted = _plot(results, png)
    (folder / f"{stem}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    md = folder / f"{stem}.md"
    md.write_text(_markdown(results, png.name if plotted else None))
    return md
