"""What every part of the claims bench shares: the targets, the simulated workers' answers, and `Run`, what one
timed phase measured."""

import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REDIS = "redis://127.0.0.1:6379/{db}"
TARGET_CYCLES_AT_50 = 200
TARGET_SHARE_OF_RAW = 0.10
TARGET_P99_CLAIM_MS = 100
RAW_ANCHOR_PER_S = 2_000  # a colleague's figure: 64 threads, this machine
CORES = os.cpu_count() or 1
LABELS = ["cat", "dog", "bird"]
FLOWS = ("claim-submit", "submit-and-claim")
WARM_UP_WORKERS = 8
PASSWORD = "bench-password-1234"
BENCH_THROTTLE = "100000/min"


@dataclass
class Run:
    """What one timed phase measured: successful requests' latencies (seconds), failures, and CPU seconds."""

    label: str
    flow: str = ""  # claim-submit or submit-and-claim; none for the raw ceiling
    offered: float = 0.0  # cycles/s the workers were paced to; 0 in a closed loop
    seconds: float = 0.0
    claim: list[float] = field(default_factory=list)
    submit: list[float] = field(default_factory=list)  # a submit-and-claim request counts here, as a submit
    next_claims: int = 0  # claims that came with a submit-and-claim
    errors: Counter = field(default_factory=Counter)
    ran_out: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    machine_cpu: float = 0.0
    violations: int | None = None
    notes: list[str] = field(default_factory=list)
    ceiling: list[float] = field(default_factory=list)  # raw-SQL claims/s right before and right after this phase

    def rate(self, latencies: list[float]) -> float:
        return len(latencies) / self.seconds if self.seconds else 0.0

    @property
    def combined(self) -> bool:
        """The submit-and-claim flow: the worker waits for the next task on that one request."""
        return self.flow == "submit-and-claim"

    def claim_rate(self) -> float:
        return (len(self.claim) + self.next_claims) / self.seconds if self.seconds else 0.0

    def capacity(self, done: int) -> float:
        """Rate the CPU cost of this benchmark's own processes allows on an otherwise idle machine (an estimate)."""
        own = sum(self.cpu.values())
        return done / own * CORES if own else 0.0


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(p / 100 * len(ordered)))) - 1] * 1000
