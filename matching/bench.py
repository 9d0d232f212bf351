"""Benchmark: the engine against simple rules and the exact optimum.

    python -m matching.bench                       # the default table
    python -m matching.bench --json > bench.jsonl  # one JSON object per instance and method
    python -m matching.bench --sizes 100 --seeds 1,2,3 --methods engine,exact

Instances come from :mod:`matching.instances` (fixed seeds, Paris and Brussels). Each method runs
in a fresh process (``spawn``), so ``peak_mb`` is that process's peak resident memory, Python
and numpy included (``base_mb`` is the same process after imports and generating the instance,
before solving); ``seconds`` is the wall-clock time of the solve alone. The machine may be
shared: times are what they were at the moment of the run.

Every method's groups are checked with :func:`matching.objective.validate` and costed with
:func:`matching.objective.evaluate`; ``gap`` is (cost - optimum) / optimum where the optimum was
proven (0 when both are 0; see :func:`gap`). For the engine, ``--late-signups`` more attendees
(another seed, same city) are then placed one by one with
:func:`matching.incremental.place_late_signup` into its groups, and the p50/p95 time per
placement is reported.

``--families ring,taxi,villages,one_pool,tiny,suburbs,paris`` runs the hard families of
:mod:`matching.families` instead of the cities; each instance line then also gives the gap per
pool (arrivals; departures per wave and transport class) where the exact solver proved that
pool's optimum, and a summary per family and method closes the run (worst and median gap, per
instance and per pool; worst and median seconds; peak MB; ``--json``: one ``"summary"`` object
each). Method ``heuristic`` is the engine without its exact step.

    python -m matching.bench --families ring,taxi,villages,one_pool,tiny,suburbs,paris \
        --sizes 100 --seeds 1-10 --methods engine,exact --exact-workers 1 --exact-time 300

k-means-constrained needs its package: ``pip install .[bench]`` (ortools, for the exact
optimum, is a dependency of the package).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import time
from dataclasses import replace
from datetime import timedelta

METHODS = (
    "engine",
    "heuristic",
    "same_neighbourhood",
    "arrival_chunks",
    "bearing_chunks",
    "kmeans_constrained",
    "exact",
)
DEFAULT_SIZES = (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
_ZERO_COST = 1e-9  # costs below this are 0 (sums of floats)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _run(method: str, city: str, n: int, seed: int, options: dict) -> dict:
    """Solve one instance with one method; runs in a child process."""
    from matching.baselines import apply_rule
    from matching.engine import match
    from matching.exact import solve_exact
    from matching.objective import evaluate, validate

    instance = _instance(city, n, seed)
    base_mb = _rss_mb()
    record: dict = {
        "city": city,
        "n": n,
        "seed": seed,
        "method": method,
        "status": "ok",
        "places": instance.places_source,
        "people": len(instance.attendees),
    }
    started = time.perf_counter()
    if method == "engine":
        result = match(instance.event, instance.attendees, seed=0)
        groups = result.groups
    elif method == "heuristic":  # the engine without its exact solver
        result = match(instance.event, instance.attendees, seed=0, exact=False)
        groups = result.groups
    elif method == "exact":
        exact = solve_exact(
            instance.event,
            instance.attendees,
            time_limit=options["exact_time"],
            workers=options.get("exact_workers", 2),
        )
        if exact is None:
            return {**record, "status": "too_big", "seconds": time.perf_counter() - started}
        groups = exact.groups
        record["status"] = "optimal" if exact.optimal else "time_limit"
        record["columns"] = exact.columns
        record["pools_proven"] = exact.pools
    else:
        groups = apply_rule(method, instance.event, instance.attendees)
    seconds = time.perf_counter() - started
    peak_mb = _rss_mb()
    report = evaluate(instance.event, instance.attendees, groups)
    problems = validate(instance.event, instance.attendees, groups)
    summary = report.as_dict()
    record.update(
        cost=report.total,
        arrival_cost=report.arrival.cost,
        departure_cost=report.departure.cost,
        grouped_share=report.grouped_share,
        seconds=seconds,
        peak_mb=peak_mb,
        base_mb=base_mb,
        valid=not problems,
        problems=problems[:5],
        parts=summary["parts"],
        arrival=summary["arrival"],
        departure=summary["departure"],
        pools=pool_costs(instance.event, instance.attendees, groups),
    )
    if method == "engine" and options["late_signups"]:
        record.update(_late_signups(instance, groups, options["late_signups"], city))
    return record


def _instance(source: str, n: int, seed: int):
    """``family:<name>`` (:mod:`matching.families`) or a city (:mod:`matching.instances`)."""
    if source.startswith("family:"):
        from matching.families import generate_family

        return generate_family(source.removeprefix("family:"), n, seed)
    from matching.instances import generate

    return generate(n, seed, source)


def pool_costs(event, attendees, groups) -> dict[str, float]:
    """The objective per pool (arrivals; departures per wave and transport class): its groups'
    costs plus ``alone`` for each of its people in no group. Pools are solved independently,
    so a pool's gap is not hidden by the others' (nor by "alone" penalties elsewhere)."""
    from matching.model import GroupKind, MatchingRules, departure_class
    from matching.objective import group_cost

    alone = MatchingRules().weights.alone
    by_id = {a.id: a for a in attendees}
    costs: dict[str, float] = {}
    grouped: set[tuple[str, str]] = set()
    for group in groups:
        if group.kind is GroupKind.ARRIVAL:
            key = "arrival"
        else:
            key = f"departure:{group.wave_id}:{group.transport_class}"
        costs[key] = costs.get(key, 0.0) + group_cost(event, group, by_id)
        grouped.update((group.kind.value, m) for m in group.members)
    waves = {w.id for w in event.departure_waves}
    for a in attendees:
        if a.arrival is not None:
            costs.setdefault("arrival", 0.0)
            if ("arrival", a.id) not in grouped:
                costs["arrival"] += alone
        if a.departure_wave in waves:
            key = f"departure:{a.departure_wave}:{departure_class(a)}"
            costs.setdefault(key, 0.0)
            if ("departure", a.id) not in grouped:
                costs[key] += alone
    return dict(sorted(costs.items()))


def _late_signups(instance, groups, count: int, source: str) -> dict:
    """Time placing ``count`` newcomers one by one into the engine's groups; check the rules."""
    from matching.incremental import place_late_signup
    from matching.objective import validate

    newcomers = [  # like the instance's people: same family or city, another seed
        replace(a, id=f"late-{a.id}", avoid=frozenset())
        for a in _instance(source, count, instance.seed + 10_000).attendees
    ]
    attendees = {a.id: a for a in instance.attendees}
    groups = list(groups)
    index = {g.id: i for i, g in enumerate(groups)}
    now = instance.event.arrival_slots[0].start - timedelta(hours=2)
    timings, joined = [], 0
    for newcomer in newcomers:
        started = time.perf_counter()
        placement = place_late_signup(instance.event, newcomer, groups, attendees, now)
        timings.append((time.perf_counter() - started) * 1000.0)
        attendees[newcomer.id] = newcomer
        for grown in (placement.arrival_group, placement.departure_group):
            if grown is not None:
                groups[index[grown.id]] = grown
                joined += 1
    problems = validate(instance.event, list(attendees.values()), groups)
    timings.sort()

    def percentile(q: float) -> float:
        return timings[min(len(timings) - 1, round(q * (len(timings) - 1)))]

    return {
        "late_signups": count,
        "late_signup_p50_ms": percentile(0.50),
        "late_signup_p95_ms": percentile(0.95),
        "late_signup_max_ms": timings[-1],
        "late_signup_joins": joined,
        "late_signup_invalid": len(problems),
    }


def _child(method, city, n, seed, options, connection) -> None:
    try:
        connection.send(_run(method, city, n, seed, options))
    except Exception as error:  # report, don't hang the parent
        connection.send(
            {
                "city": city,
                "n": n,
                "seed": seed,
                "method": method,
                "status": f"error: {type(error).__name__}: {error}",
            }
        )
    finally:
        connection.close()


def run_isolated(method: str, city: str, n: int, seed: int, options: dict) -> dict:
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(method, city, n, seed, options, sender))
    process.start()
    sender.close()
    timeout = options["timeout"]
    record = None
    if receiver.poll(timeout):
        try:
            record = receiver.recv()
        except EOFError:
            record = None
    if record is None:
        status = "timeout" if process.is_alive() else "crashed"
        record = {
            "city": city,
            "n": n,
            "seed": seed,
            "method": method,
            "status": status,
            "seconds": timeout if status == "timeout" else None,
        }
    if process.is_alive():
        process.terminate()
    process.join()
    return record


def gap(cost: float | None, optimum: float | None) -> float | None:
    """(cost - optimum) / optimum; 0 when both are 0 (everyone grouped at no cost at all).

    ``None`` when either is unknown, or when the optimum is 0 and the cost is not (the relative
    gap is infinite; JSON has no infinity, and the table shows the absolute difference).
    """
    if cost is None or optimum is None:
        return None
    if optimum > _ZERO_COST:
        return (cost - optimum) / optimum
    return 0.0 if cost - optimum <= _ZERO_COST else None


def _format(record: dict, optimum: float | None) -> str:
    if "cost" not in record:
        return f"  {record['method']:<19} {record['status']}"
    relative = record.get("gap")
    if relative is not None:
        shown_gap = f"{relative * 100:6.2f}%"
    elif optimum is not None:  # an optimum of 0: the absolute difference
        shown_gap = f"+{record['cost'] - optimum:.1f}"
    else:
        shown_gap = "-"
    arrival, departure = record["arrival"], record["departure"]

    def stat(block: dict, key: str, scale: float = 1.0) -> str:
        return f"{block[key]['mean'] * scale:5.1f}/{block[key]['p95'] * scale:5.1f}"

    def sizes(block: dict) -> str:
        return ",".join(f"{k}:{v}" for k, v in block["size_histogram"].items() if k != "1")

    late = ""
    if "late_signup_p95_ms" in record:
        late = (
            f"  late sign-up p50/p95 {record['late_signup_p50_ms']:.1f}/"
            f"{record['late_signup_p95_ms']:.1f} ms"
        )
    flag = "" if record.get("valid", True) else "  INVALID"
    return (
        f"  {record['method']:<19}{record['cost']:10.1f} "
        f"{shown_gap:>7} "
        f"{record['grouped_share'] * 100:6.1f}% "
        f"{arrival['alone'] + departure['alone']:5d} "
        f"{stat(arrival, 'arrival_gap_min')} {stat(departure, 'detour', 100)} "
        f"{stat(departure, 'solo_leg_km')} "
        f"{record['seconds']:7.2f} {record['peak_mb']:6.0f}  "
        f"arr[{sizes(arrival)}] dep[{sizes(departure)}]{late}{flag}"
    )


HEADER = (
    "  method                   cost     gap grouped alone arr.gap min  detour %   solo km"
    "        s peakMB  sizes\n"
    "                                                       mean/p95   mean/p95  mean/p95"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m matching.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--cities", default="paris,bruxelles")
    parser.add_argument(
        "--families",
        default="",
        help="hard families instead of cities (matching.families): "
        "ring,taxi,villages,one_pool,tiny,suburbs,paris",
    )
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument(
        "--exact-max-n",
        type=int,
        default=100,
        help="run the exact optimum up to this many attendees",
    )
    parser.add_argument(
        "--exact-time", type=float, default=300.0, help="time limit of the exact solver, seconds"
    )
    parser.add_argument(
        "--exact-workers", type=int, default=2, help="CP-SAT workers of the exact optimum"
    )
    parser.add_argument(
        "--kmeans-max-n",
        type=int,
        default=5000,
        help="run k-means-constrained up to this many attendees (slow beyond)",
    )
    parser.add_argument(
        "--late-signups",
        type=int,
        default=200,
        help="late sign-ups to time after the engine (0: none)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800.0, help="give up on a method after this many seconds"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument(
        "--json-out",
        metavar="PATH",
        help="also append the JSON lines to this file (with the table on stdout)",
    )
    args = parser.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}; choose from {', '.join(METHODS)}")
    options = {
        "exact_time": args.exact_time,
        "exact_workers": args.exact_workers,
        "late_signups": args.late_signups,
        "timeout": args.timeout,
    }
    # The exact optimum first, so that every other line can carry it.
    order = sorted(methods, key=lambda m: m != "exact")
    if args.families:
        from matching.families import FAMILIES

        unknown = set(args.families.split(",")) - set(FAMILIES)
        if unknown:
            parser.error(f"unknown families {sorted(unknown)}; choose from {', '.join(FAMILIES)}")
        sources = [f"family:{f}" for f in args.families.split(",")]
    else:
        sources = args.cities.split(",")
    summary: dict[tuple[str, str], list[dict]] = {}
    for n in (int(s) for s in args.sizes.split(",")):
        for city in sources:
            for seed in parse_seeds(args.seeds):
                optimum = None
                exact_record = None
                records = []
                for method in order:
                    if method == "exact" and n > args.exact_max_n:
                        continue
                    if method == "kmeans_constrained" and n > args.kmeans_max_n:
                        record = {
                            "city": city,
                            "n": n,
                            "seed": seed,
                            "method": method,
                            "status": f"skipped (n > --kmeans-max-n {args.kmeans_max_n})",
                        }
                    else:
                        record = run_isolated(method, city, n, seed, options)
                    if method == "exact" and record.get("status") == "optimal":
                        optimum = record["cost"]
                    record["optimum_cost"] = optimum
                    record["gap"] = gap(record.get("cost"), optimum)
                    if exact_record is not None and "pools" in record:
                        record["pool_gaps"] = pool_gaps(record, exact_record)
                    if method == "exact":
                        exact_record = record
                    records.append(record)
                    summary.setdefault((city, method), []).append(record)
                    _emit(record, args)
                if not args.json:
                    places = next((r.get("places") for r in records if r.get("places")), "?")
                    title = f"{city} n={n} seed={seed} (places: {places})"
                    if optimum is not None:
                        title += f"  optimum {optimum:.1f}"
                    print(title)
                    print(HEADER)
                    for record in sorted(records, key=lambda r: METHODS.index(r["method"])):
                        print(_format(record, optimum))
                        for key, value in sorted(record.get("pool_gaps", {}).items()):
                            shown = "-" if value is None else f"{value * 100:.2f}%"
                            print(f"      pool {key}: gap {shown}")
                    print(flush=True)
    rows = [summarise(city, method, found) for (city, method), found in summary.items()]
    for row in rows:
        _emit(row, args)
    if not args.json:
        print(SUMMARY_HEADER)
        for row in rows:
            print(_format_summary(row))
    return 0


def _emit(record: dict, args: argparse.Namespace) -> None:
    """One JSON line: on stdout with ``--json``, appended to ``--json-out`` when given."""
    line = json.dumps(record, sort_keys=True)
    if args.json:
        print(line, flush=True)
    if args.json_out:
        with open(args.json_out, "a", encoding="utf-8") as out:
            out.write(line + "\n")


def parse_seeds(text: str) -> list[int]:
    """``1,2,5`` or ``1-10`` (or both: ``1-3,7``)."""
    seeds: list[int] = []
    for part in text.split(","):
        if "-" in part:
            low, high = (int(x) for x in part.split("-"))
            seeds.extend(range(low, high + 1))
        elif part:
            seeds.append(int(part))
    return seeds


def pool_gaps(record: dict, exact: dict) -> dict[str, float | None]:
    """Gap per pool where the exact solver proved that pool's optimum."""
    proven = exact.get("pools_proven") or {}
    optimum = exact.get("pools") or {}
    found = {}
    for key, cost in record["pools"].items():
        if proven.get(key) and key in optimum:
            found[key] = gap(cost, optimum[key])
    return found


def _stats(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    ordered = sorted(values)
    return ordered[-1], ordered[(len(ordered) - 1) // 2]


def summarise(source: str, method: str, records: list[dict]) -> dict:
    """Per family (or city) and method: worst and median gaps (instances, proven pools), worst
    and median seconds, worst peak memory, and whether every result was valid."""
    gaps = [r["gap"] for r in records if r.get("gap") is not None]
    pools = [g for r in records for g in (r.get("pool_gaps") or {}).values() if g is not None]
    seconds = [r["seconds"] for r in records if r.get("seconds") is not None]
    peaks = [r["peak_mb"] for r in records if r.get("peak_mb") is not None]
    worst_gap, median_gap = _stats(gaps)
    worst_pool, median_pool = _stats(pools)
    worst_s, median_s = _stats(seconds)
    late = [r["late_signup_invalid"] for r in records if "late_signup_invalid" in r]
    return {
        "summary": source.removeprefix("family:"),
        "method": method,
        "instances": len(records),
        "instances_with_gap": len(gaps),
        "worst_gap": worst_gap,
        "median_gap": median_gap,
        "pools_with_gap": len(pools),
        "worst_pool_gap": worst_pool,
        "median_pool_gap": median_pool,
        "worst_seconds": worst_s,
        "median_seconds": median_s,
        "peak_mb": max(peaks) if peaks else None,
        "all_valid": all(r.get("valid", True) for r in records),
        "late_signup_invalid": sum(late) if late else None,
    }


SUMMARY_HEADER = (
    "summary           method      inst  worst gap  median   pools worst pool  median"
    "   worst s  median s  peakMB"
)


def _format_summary(row: dict) -> str:
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value * 100:.2f}%"

    def num(value: float | None, digits: int) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    return (
        f"{row['summary']:<17} {row['method']:<10} {row['instances']:5d} "
        f"{pct(row['worst_gap']):>10} {pct(row['median_gap']):>7} {row['pools_with_gap']:7d} "
        f"{pct(row['worst_pool_gap']):>10} {pct(row['median_pool_gap']):>7} "
        f"{num(row['worst_seconds'], 2):>9} {num(row['median_seconds'], 2):>9} "
        f"{num(row['peak_mb'], 0):>7}" + ("" if row["all_valid"] else "  INVALID")
    )


if __name__ == "__main__":
    sys.exit(main())
