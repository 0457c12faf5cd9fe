"""Cost of one evaluation in the local Step Functions runtime's expression layer.

Measures, per case, the median microseconds per call over several timed batches: JSONata
expressions through ``JsonataExpression.evaluate`` (compiled fast path where it applies) and
through the full jsonata-python engine alone (the fast path's fallback), JSONata templates,
compiling, JSONPath reads and writes, payload templates and intrinsic functions. The ratio column
compares each JSONata case with the full engine on the same expression, within this one run.
The "event loop" rows measure what the engine awaits (``Template.render_async``): the same
template evaluated on the loop, and handed to a worker thread and back (the thread hop that
expressions the loop may not evaluate pay).

    .venv/bin/python bench/bench_expressions.py [--repeats 7] [--seconds 0.2]

Prints a table and writes bench/results/expressions.json. Target: a simple ``{% $states.input.x %}``
in tens of microseconds or less (the runtime needs >= 10,000 JSONata state transitions/s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "expressions.json"
TARGET_SIMPLE_US = 20.0

from sfn_runtime.expressions.intrinsics import compile_intrinsic  # noqa: E402
from sfn_runtime.expressions.jsonata_eval import _off_loop, compile_jsonata, compile_template  # noqa: E402
from sfn_runtime.expressions.jsonpath import compile_path  # noqa: E402
from sfn_runtime.expressions.payload import compile_payload  # noqa: E402

STATES = {
    "input": {"x": 7, "value": 3, "order": {"id": "o-1", "total": 41.5, "lines": [{"sku": "a", "n": 2}] * 20}},
    "context": {"Execution": {"Id": "arn:aws:states:us-east-1:123456789012:execution:m:e", "Input": {}}},
}
VARIABLES = {"limit": 40, "prefix": "order-"}
JSONATA_CASES = {
    "simple path": "$states.input.x",
    "Choice condition": "$states.input.value % 2 = 0",
    "arithmetic and logic": "$states.input.order.total > $limit and $states.input.x < 10",
    "string concat": "$prefix & $states.input.order.id",
    "object constructor": "{'id': $states.input.order.id, 'big': $states.input.order.total > $limit}",
    "function call ($count)": "$count($states.input.order.lines)",
    "filter + map (engine only)": "$states.input.order.lines[n > 1].sku",
}


def per_call_us(function: Callable[[], Any], repeats: int, seconds: float) -> float:
    """Median microseconds per call over ``repeats`` batches of about ``seconds`` each."""
    calls = 1
    while True:  # size a batch
        start = time.perf_counter()
        for _ in range(calls):
            function()
        if time.perf_counter() - start >= seconds / 4:
            break
        calls *= 2
    batch = max(1, int(calls * seconds / max(time.perf_counter() - start, 1e-9)))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(batch):
            function()
        samples.append((time.perf_counter() - start) / batch * 1e6)
    return statistics.median(samples)


def awaited(make: Callable[[], Any]) -> Callable[[], Any]:
    """A call that awaits ``make()`` 100 times in a running event loop (per_call_us divides by 100 after)."""
    loop = asyncio.new_event_loop()

    async def hundred() -> None:
        for _ in range(100):
            await make()

    return lambda: loop.run_until_complete(hundred())


def cases() -> list[tuple[str, str, Callable[[], Any], Callable[[], Any] | None]]:
    """(group, name, measured call, same work on the full jsonata-python engine or None)."""
    rows: list = []
    for name, source in JSONATA_CASES.items():
        expression = compile_jsonata(source)
        rows.append(("jsonata", name, lambda e=expression: e.evaluate(STATES, VARIABLES),
                     lambda e=expression: e._evaluate_fully(STATES, VARIABLES)))
    template = compile_template({"id": "{% $states.input.order.id %}", "x": "{% $states.input.x %}",
                                 "fixed": {"a": 1}, "ok": "{% $states.input.value > 1 %}"})
    rows.append(("jsonata", "template, 3 expressions", lambda: template.render(STATES, VARIABLES), None))
    render = lambda: template.render(STATES, VARIABLES)  # noqa: E731
    rows.append(("event loop", "template, on the loop", awaited(lambda: template.render_async(STATES, VARIABLES)), None))
    rows.append(("event loop", "template, one thread hop", awaited(lambda: _off_loop(render, RuntimeError)), None))
    rows.append(("jsonata", "compile (parse once)", lambda: compile_jsonata(JSONATA_CASES["Choice condition"]), None))
    data = STATES["input"]
    context = STATES["context"]
    definite = compile_path("$.order.id")
    rows.append(("jsonpath", "read $.order.id", lambda: definite.read(data, context, VARIABLES), None))
    wildcard = compile_path("$.order.lines[?(@.n > 1)].sku")
    rows.append(("jsonpath", "read filter over 20 items", lambda: wildcard.read(data, context, VARIABLES), None))
    result_path = compile_path("$.result.value", reference=True)
    rows.append(("jsonpath", "write $.result.value", lambda: result_path.write(data, {"ok": True}), None))
    payload = compile_payload({"id.$": "$.order.id", "exec.$": "$$.Execution.Id", "limit.$": "$limit", "fixed": 1})
    rows.append(("payload", "render 3 paths", lambda: payload.render(data, context, VARIABLES), None))
    intrinsic = compile_intrinsic("States.Format('{}-{}', $.order.id, States.ArrayLength($.order.lines))")
    rows.append(("intrinsic", "Format + ArrayLength", lambda: intrinsic.evaluate(data, context, VARIABLES), None))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=0.2, help="time per timed batch")
    args = parser.parse_args()
    rows = []
    for group, name, call, engine in cases():
        us = per_call_us(call, args.repeats, args.seconds) / (100 if group == "event loop" else 1)
        engine_us = per_call_us(engine, args.repeats, args.seconds) if engine is not None else None
        rows.append({"group": group, "case": name, "median_us": us, "engine_median_us": engine_us,
                     "engine_vs_layer": engine_us / us if engine_us else None})
    print(f"{'group':<10} {'case':<28} {'us/call':>9} {'engine us':>10} {'engine/layer':>13}")
    for row in rows:
        engine = f"{row['engine_median_us']:>10.1f}" if row["engine_median_us"] else f"{'-':>10}"
        ratio = f"{row['engine_vs_layer']:>12.1f}x" if row["engine_vs_layer"] else f"{'-':>13}"
        print(f"{row['group']:<10} {row['case']:<28} {row['median_us']:>9.1f} {engine} {ratio}")
    simple = next(r for r in rows if r["case"] == "simple path")["median_us"]
    verdicts = {"simple_path_us": simple, "simple_path_meets_target": simple <= TARGET_SIMPLE_US}
    print("targets:", json.dumps(verdicts))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "bench": "expressions",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "repeats": args.repeats,
        "seconds_per_batch": args.seconds,
        "targets": {"simple_path_us": TARGET_SIMPLE_US},
        "verdicts": verdicts,
        "rows": rows,
    }, indent=2))


if __name__ == "__main__":
    main()
