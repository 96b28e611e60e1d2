"""What the bench prints: each phase as it ends, the probe, and the summary table against the targets."""

import statistics

from bench.claims.ceiling import RAW_THREADS
from bench.claims.common import (
    CORES,
    RAW_ANCHOR_PER_S,
    TARGET_CYCLES_AT_50,
    TARGET_P99_CLAIM_MS,
    TARGET_SHARE_OF_RAW,
    Run,
    pct,
)


def print_run(run: Run) -> None:
    unit = "cycle" if run.submit else "claim"
    done = len(run.submit) or len(run.claim)
    print(f"\n== {run.label}: {run.seconds:.1f} s")
    print(f"  claims/s {run.claim_rate():,.0f}   submits/s (= cycles/s) {run.rate(run.submit):,.0f}")
    submit = "submit-and-claim" if run.combined else "submit"
    for name, values in (("claim", run.claim), (submit, run.submit)):
        if values and (name != "claim" or not run.combined):
            p50, p95, p99, top = (pct(values, p) for p in (50, 95, 99, 100))
            print(f"  {name} latency ms: p50 {p50:6.1f}  p95 {p95:6.1f}  p99 {p99:6.1f}  max {top:6.1f}")
    rest = run.machine_cpu - sum(run.cpu.values())
    spent = ", ".join(f"{name} {cpu * 1e3 / max(done, 1):.1f}" for name, cpu in [*run.cpu.items(), ("rest", rest)])
    print(
        f"  CPU ms per {unit}: {spent}; machine {run.machine_cpu * 1e3 / max(done, 1):.1f} of the "
        f"{1e3 * CORES * run.seconds / max(done, 1):.1f} that {CORES} cores offer per {unit} at this rate"
    )
    if rest > 0.1 * run.machine_cpu:
        print(
            f"  WARNING: {rest / run.machine_cpu:.0%} of the machine's CPU went to processes outside this benchmark; "
            f"with the machine to itself, this CPU cost would allow ~{run.capacity(done):,.0f} {unit}s/s"
        )
    if run.errors or run.ran_out:
        print(f"  failed requests {dict(run.errors)}; simulated workers that found no work left: {run.ran_out}")
    for note in run.notes:
        print(f"  {note}")


def print_probe(seen: dict[str, list[tuple[int, float, float]]]) -> None:
    print(
        f"\n== in-process probe: one worker, Django test client (no HTTP, gunicorn or contention), median of "
        f"{len(seen['claim']) - 1} cycles after the first"
    )
    for name, samples in seen.items():
        steady = samples[1:] or samples
        low, high = min(n for n, _, _ in steady), max(n for n, _, _ in steady)
        total, db = statistics.median(s for _, s, _ in steady), statistics.median(d for _, _, d in steady)
        print(
            f"  {name:<6}: {low if low == high else f'{low}-{high}'} queries, {total * 1e3:.1f} ms, of which "
            f"{db * 1e3:.1f} ms in PostgreSQL round trips and {(total - db) * 1e3:.1f} ms in Python "
            "(Django, DRF, the service, Redis)"
        )


Row = tuple[str, str, str, str]


def print_summary(raw: Run | None, runs: dict[tuple[int, str, float], Run], raw_threads: int = RAW_THREADS) -> None:
    """The table of figures against targets and anchors; without the ceiling (`raw` None, `--no-raw`), no shares."""
    raw_rate = raw.rate(raw.claim) if raw is not None else 0.0
    rows: list[Row] = []
    if raw is not None:
        rows += [
            (
                f"raw SQL claims/s, {raw_threads} threads",
                f"{raw_rate:,.0f}",
                f"~{RAW_ANCHOR_PER_S:,} (colleague)",
                "anchor",
            ),
            ("raw SQL invariant violations", f"{raw.violations}", "0", met(raw.violations == 0)),
        ]
    for (w, _, _), run in runs.items():
        rows += run_rows(w, run, raw_rate)
    print(f"\n{'figure':<52}{'measured':>18}  {'target/anchor':<20}met")
    for figure, measured, target, ok in rows:
        print(f"{figure:<52}{measured:>18}  {target:<20}{ok}")
    for (w, flow, rate), run in runs.items():
        if rate:
            print(
                f"W={w}, {flow}, paced: each worker starts a task every {w / rate * 1e3:,.0f} ms (the rest of that "
                "time stands for labelling): "
                + ("the latencies of a service below saturation" if kept_up(run) else "the service could not keep up")
            )
            continue
        cycle_ms = 1e3 * w / max(run.rate(run.submit), 1e-9)
        requests = "submit-and-claim" if run.combined else "claim + submit"
        waits = [run.submit] if run.combined else [run.claim, run.submit]
        mean_ms = 1e3 * sum(statistics.fmean(values or [0]) for values in waits)
        print(
            f"W={w}, {flow}: W / cycles per s = {cycle_ms:,.0f} ms per cycle; measured mean {requests} = "
            f"{mean_ms:,.0f} ms (a closed loop without think time: the latency above a lone request's is time queued "
            "for the CPU)"
        )


def run_rows(w: int, run: Run, raw_rate: float) -> list[Row]:
    """The figures of one W and flow; the targets apply at W = 50. The share of the ceiling is taken against the
    ceiling measured right before and right after this phase (their mean), as the machine's speed drifts within a
    run. In the submit-and-claim flow a worker waits for the next task on the submit-and-claim request: its latency
    stands for the claim's."""
    waits = run.submit if run.combined else run.claim
    cycles, wait_ms = run.rate(run.submit), [pct(waits, p) for p in (50, 95, 99)]
    ceiling = statistics.fmean(run.ceiling) if run.ceiling else raw_rate
    share = cycles / ceiling if ceiling else 0.0
    name = f"W={w} {run.flow}" + (f" paced {run.offered:g}/s" if run.offered else "")

    def target(text: str, ok: bool) -> tuple[str, str]:
        return (text, met(ok)) if w == 50 else ("", "")

    shares = [
        (f"{name} raw SQL claims/s before / after", " / ".join(f"{c:,.0f}" for c in run.ceiling), "", ""),
        (
            f"{name} cycles/s over raw claims/s",
            f"{share:.1%}",
            *target(f">= {TARGET_SHARE_OF_RAW:.0%}", share >= TARGET_SHARE_OF_RAW),
        ),
    ]
    latencies = [
        (
            f"{name} {'request' if run.combined else 'claim'} p50/p95/p99 ms",
            triple(wait_ms),
            *target(f"p99 < {TARGET_P99_CLAIM_MS}", wait_ms[2] < TARGET_P99_CLAIM_MS),
        )
    ]
    if not run.combined:
        latencies.append((f"{name} submit p50/p95/p99 ms", triple([pct(run.submit, p) for p in (50, 95, 99)]), "", ""))
    return [
        (f"{name} claims/s", f"{run.claim_rate():,.0f}", "", ""),
        (f"{name} cycles/s", f"{cycles:,.0f}", *target(f">= {TARGET_CYCLES_AT_50}", cycles >= TARGET_CYCLES_AT_50))
        if not run.offered
        else (f"{name} cycles/s", f"{cycles:,.0f}", f"{run.offered:g} offered", met(kept_up(run))),
        *(shares if w == 50 and not run.offered and run.ceiling else []),
        *latencies,
        (f"{name} failed requests", f"{sum(run.errors.values())}", "0", met(not run.errors)),
        (f"{name} invariant violations", f"{run.violations}", "0", met(run.violations == 0)),
    ]


def kept_up(run: Run) -> bool:
    """A paced phase: did the service answer the work offered (its first and last tasks straddle the edges)?"""
    return run.rate(run.submit) >= 0.95 * run.offered


def triple(values: list[float]) -> str:
    return " / ".join(f"{v:.0f}" for v in values)


def met(ok: bool) -> str:
    return "yes" if ok else "NO"
