"""What a simulated run found, computed from what the API answered (and the ledger check), and printed short."""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from marketplace.demo.crowd import CLASSES, Dataset, SimWorker
from marketplace.demo.rating import RatingReport

KINDS = ("good", "slow", "noisy", "class-biased", "swapper", "spammer")
GOOD_ACCURACY = 0.7  # the quality target: every spammer kept out, at most one real worker this good blocked


@dataclass(frozen=True)
class Check:
    """One assignment's answers on its real items against the aggregated labels and against the truth."""

    items: int
    agreement: float  # share of the answers equal to the aggregated label
    worker_right: int
    labels_right: int

    @classmethod
    def per_assignment(
        cls,
        assignments: list[dict[str, Any]],
        task_of: dict[int, int],
        labels: dict[int, str],
        export: Iterable[dict[str, Any]],
        dataset: Dataset,
    ) -> dict[int, "Check"]:
        """A check per assignment, from the items' tasks, the results' labels and the raw-answers export."""
        rows: dict[tuple[int, int], list[tuple[str, str, str]]] = {}
        for row in export:
            truth = dataset.truth[row["external_id"]]
            for answer in row["answers"]:
                key = (task_of[row["item_id"]], answer["worker"])
                rows.setdefault(key, []).append((answer["answer"], labels[row["item_id"]], truth))
        return {a["id"]: cls.of(rows.get((a["task"], a["worker"]), [])) for a in assignments}

    @classmethod
    def of(cls, rows: list[tuple[str, str, str]]) -> "Check":
        """`rows`: (answer, aggregated label, truth) per item."""
        agreement = sum(a == label for a, label, _ in rows) / len(rows) if rows else 1.0
        right = sum(a == truth for a, _, truth in rows)
        return cls(len(rows), agreement, right, sum(label == truth for _, label, truth in rows))


@dataclass(frozen=True)
class Review:
    approved: int
    rejected: int
    refused: list[dict[str, Any]]
    rejected_id: int
    rejected_worker: SimWorker
    check: Check  # the rejected assignment
    auto_rejected: int  # rejected by gold quality control when their worker was blocked


@dataclass
class Report:
    seed: int
    crowd: list[SimWorker]
    items: list[str]
    dataset: Dataset
    deposits: list[int] = field(default_factory=list)
    job: dict[str, Any] = field(default_factory=dict)
    uploads: dict[str, int] = field(default_factory=dict)
    tasks: int = 0
    slow_outcome: str = "the slow worker never got an assignment"
    slow_expired: bool = False
    aggregate: dict[str, Any] = field(default_factory=dict)
    review: Review | None = None
    dispute: str = ""
    dispute_decision: dict[str, Any] = field(default_factory=dict)  # decision, and who made it (admin, automatic)
    payouts: list[tuple[str, int, str]] = field(default_factory=list)
    payouts_too_small: list[tuple[str, int]] = field(default_factory=list)
    progress: dict[str, Any] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)
    export: list[dict[str, Any]] = field(default_factory=list)
    workers: list[dict[str, Any]] = field(default_factory=list)
    agreement: dict[str, Any] = field(default_factory=dict)  # the job's agreement endpoint
    balances: list[dict[str, Any]] = field(default_factory=list)
    transactions: list[dict[str, Any]] = field(default_factory=list)
    ledger: dict[str, int] | None = None
    seconds: float = 0.0
    requests: int = 0
    users: str = ""  # how to log in as the simulated requester, admin and workers
    rating: RatingReport | None = None  # the second job, of a new answer type (marketplace/demo/rating.py)

    # --- Accuracy ---------------------------------------------------------------------------------------------------

    def _truth(self, external_id: str) -> str:
        return self.dataset.truth[external_id]

    def ds_accuracy(self) -> float:
        right = sum(r["label"] == self._truth(r["external_id"]) for r in self.results)
        return right / len(self.results)

    def mv_accuracy(self, *, without_blocked: bool = False) -> float:
        """Majority vote over the exported raw answers; ties go to the first class (as the engine's MV does)."""
        blocked = {w["worker"] for w in self.workers if w["blocked"]} if without_blocked else set()
        right = 0
        for row in self.export:
            votes = Counter(a["answer"] for a in row["answers"] if a["worker"] not in blocked)
            if votes:
                top = max(votes.values())
                label = next(c for c in CLASSES if votes[c] == top)
                right += label == self._truth(row["external_id"])
        return right / len(self.export)

    # --- Workers ------------------------------------------------------------------------------------------------------

    def _record(self, worker: SimWorker) -> dict[str, Any] | None:
        return next((w for w in self.workers if w["worker"] == worker.user_id), None)

    def true_accuracy(self, worker: SimWorker) -> float | None:
        """The share of the job's real items (gold left out) that this worker answered right."""
        real = set(self.items)
        mine = [(image, label) for image, label in worker.answered.items() if image in real]
        return sum(label == self._truth(image) for image, label in mine) / len(mine) if mine else None

    def kept_out(self, worker: SimWorker) -> bool:
        record = self._record(worker)
        return not worker.qualified or bool(record and record["blocked"])

    def spammers_kept_out(self) -> bool:
        return all(self.kept_out(w) for w in self.crowd if w.kind == "spammer")

    def spammer_outcomes(self) -> dict[str, str]:
        """Per spammer: failed the test, blocked (after how many gold answers), or still working."""
        outcomes = {}
        for worker in (w for w in self.crowd if w.kind == "spammer"):
            record = self._record(worker) or {}
            if not worker.qualified:
                outcomes[worker.name] = "failed the test"
            elif record.get("blocked"):
                outcomes[worker.name] = f"blocked after {record['gold_answered']} gold answers"
            else:
                outcomes[worker.name] = f"NOT kept out ({record.get('gold_answered', 0)} gold answers)"
        return outcomes

    def real_blocked(self) -> list[dict[str, Any]]:
        """The data set's real workers whom gold blocked, with their true accuracy: over every image of the data
        set (all 108 answers the person gave: their accuracy as a worker), and on this job's items they answered
        before the block (a handful: a noisy figure)."""
        blocked = []
        for worker in self.crowd:
            record = self._record(worker) or {}
            if worker.source and record.get("blocked"):
                on_job = self.true_accuracy(worker)
                blocked.append(
                    {
                        "worker": worker.name,
                        "accuracy": round(self.dataset.accuracy(worker.source), 3),
                        "on_job": None if on_job is None else round(on_job, 3),
                        "gold": f"{record['gold_correct']}/{record['gold_answered']}",
                    }
                )
        return blocked

    def good_blocked(self) -> list[str]:
        """Real workers at least GOOD_ACCURACY accurate (over the data set) whom gold blocked."""
        return [r["worker"] for r in self.real_blocked() if r["accuracy"] >= GOOD_ACCURACY]

    def estimate_error(self) -> float | None:
        """Mean absolute gap between Dawid-Skene's estimated accuracy and the true one, over unblocked workers."""
        gaps = []
        for worker in self.crowd:
            record, true = self._record(worker), self.true_accuracy(worker)
            if record and not record["blocked"] and record["estimated_accuracy"] is not None and true is not None:
                gaps.append(abs(record["estimated_accuracy"] - true))
        return sum(gaps) / len(gaps) if gaps else None

    # --- Money ----------------------------------------------------------------------------------------------------

    def money(self) -> dict[str, int]:
        """From the requester's own transactions: what came in, went to work, came back, and is still held."""
        by_kind: Counter[str] = Counter()
        for transaction in self.transactions:
            for posting in transaction["postings"]:
                if posting["account"] == "job_escrow" or transaction["kind"] == "deposit":
                    by_kind[transaction["kind"]] += posting["amount"]
        usd = next((b for b in self.balances if b["currency"] == "USD"), {})
        return {
            "deposited": by_kind["deposit"],
            "escrowed": by_kind["escrow_fund"],
            "paid_for_work": -by_kind["escrow_pay"],
            "refunded": -by_kind["escrow_refund"],
            "in_escrow": usd.get("in_escrow", 0),
            "available": usd.get("available", 0),
        }

    def ledger_balanced(self) -> bool | None:
        return None if self.ledger is None else all(total == 0 for total in self.ledger.values())

    def summary(self) -> dict[str, Any]:
        """The figures a test or a script checks, as plain JSON."""
        return {
            "seed": self.seed,
            "items": len(self.items),
            "tasks": self.tasks,
            "job_status": self.job.get("status"),
            "ds_accuracy": self.ds_accuracy(),
            "mv_accuracy": self.mv_accuracy(),
            "mv_accuracy_without_blocked": self.mv_accuracy(without_blocked=True),
            "spammers_kept_out": self.spammers_kept_out(),
            "spammers": self.spammer_outcomes(),
            "real_blocked": self.real_blocked(),
            "good_blocked": self.good_blocked(),
            "blocked": sorted(w.name for w in self.crowd if self._blocked(w)),
            "failed_test": sorted(w.name for w in self.crowd if w.qualified is False),
            "estimate_error": self.estimate_error(),
            "agreement": self.agreement,
            "money": self.money(),
            "review": self._review_summary(),
            "dispute": self.dispute_decision,
            "slow_worker_expired": self.slow_expired,
            "payouts": len(self.payouts),
            "payouts_sent_cents": sum(amount for _, amount, status in self.payouts if status == "sent"),
            "ledger": self.ledger,
            "ledger_balanced": self.ledger_balanced(),
            "seconds": round(self.seconds, 1),
            "requests": self.requests,
            "rating": self.rating.summary() if self.rating is not None else None,
        }

    def _blocked(self, worker: SimWorker) -> bool:
        record = self._record(worker)
        return bool(record and record["blocked"])

    def _review_summary(self) -> dict[str, Any]:
        if self.review is None:
            return {}
        return {
            "approved": self.review.approved,
            "rejected": self.review.rejected,
            "refused": self.review.refused,
            "auto_rejected": self.review.auto_rejected,
        }

    # --- Printing ---------------------------------------------------------------------------------------------------

    def render(self) -> str:
        rating = self.rating.render() if self.rating is not None else []
        return "\n".join([*self._headline(), *rating, "", *self._worker_table(), "", *self._money_lines()])

    def _headline(self) -> list[str]:
        s, agg = self.summary(), self.aggregate
        ok = "yes" if s["spammers_kept_out"] else "NO"
        done = self.progress.get("tasks_complete", 0)
        short = "" if done == self.tasks else f" ({done} of {self.tasks} tasks done: too few eligible workers left)"
        return [
            f"crowdmarket simulation, seed {self.seed}: job #{self.job.get('id')} is {s['job_status']}{short}",
            f"  {s['items']} items in {self.tasks} tasks (+{self.uploads.get('gold', 0)} gold), overlap "
            f"{self.job.get('overlap_max')}, {len(self.crowd)} workers, {self.requests} HTTP requests, "
            f"{self.seconds:.1f} s",
            f"  accuracy vs truth: Dawid-Skene {s['ds_accuracy']:.2%} | majority vote {s['mv_accuracy']:.2%} "
            f"(all answers) | {s['mv_accuracy_without_blocked']:.2%} (blocked workers left out)",
            f"  aggregation: {agg.get('n_answers')} answers, {agg.get('iterations')} EM iterations, converged "
            f"{agg.get('converged')}, {agg.get('excluded_workers')} workers left out",
            f"  agreement (blocked workers left out): {self.agreement_line()}",
            f"  failed the test: {', '.join(s['failed_test']) or 'none'}",
            f"  blocked by gold: {', '.join(s['blocked']) or 'none'}; every spammer kept out: {ok}",
            f"  spammers: {'; '.join(f'{name} {outcome}' for name, outcome in s['spammers'].items()) or 'none'}",
            f"  real workers blocked (true accuracy over the data set; on this job): {self.real_blocked_line()}",
            f"  quality target: every spammer kept out {ok}; real workers >= {GOOD_ACCURACY:.0%} accurate blocked: "
            f"{len(s['good_blocked'])} (at most 1: {'yes' if len(s['good_blocked']) <= 1 else 'NO'})",
            f"  slow worker: {self.slow_outcome}",
            f"  review: {self._review_line()}",
            f"  dispute: {self.dispute}",
        ]

    def agreement_line(self) -> str:
        a = self.agreement
        if not a:
            return "not read"
        per_class = ", ".join(f"{c} {_estimate(e['krippendorff_alpha'])}" for c, e in a["per_class"].items())
        return (
            f"Krippendorff's alpha {_estimate(a['krippendorff_alpha'])}, Fleiss' kappa {_estimate(a['fleiss_kappa'])}"
            f" (95% bootstrap intervals, {a['krippendorff_alpha']['items']} items); alpha per class: {per_class}"
        )

    def real_blocked_line(self) -> str:
        return (
            ", ".join(
                f"{r['worker']} {r['accuracy']:.0%}; {_pct(r['on_job'])} (gold {r['gold']})"
                for r in self.real_blocked()
            )
            or "none"
        )

    def _review_line(self) -> str:
        r = self.review
        if r is None:
            return "not run"
        refused = f", {len(r.refused)} refused: {r.refused}" if r.refused else ""
        return (
            f"{r.approved} approved, {r.rejected} rejected by the requester ({r.rejected_worker.name}: "
            f"{r.check.agreement:.0%} agreement with the labels; against the truth the worker had "
            f"{r.check.worker_right}/{r.check.items} right, the labels {r.check.labels_right}/{r.check.items}), "
            f"{r.auto_rejected} rejected by gold quality control{refused}"
        )

    def _worker_table(self) -> list[str]:
        lines = [
            f"  {'worker':<10} {'kind':<13} {'test':>5} {'tasks':>5} {'gold':>6} {'est.acc':>7} {'true':>6} {'set':>5}"
            "  status"
        ]
        order = sorted(self.crowd, key=lambda w: (KINDS.index(w.kind), -(self.true_accuracy(w) or 0), w.name))
        for worker in order:
            lines.append(self._worker_line(worker))
        lines.append(
            "  (est.acc in brackets: estimated before the worker was blocked; true: on this job's real items; set: over"
            " the whole data set)"
        )
        error = self.estimate_error()
        if error is not None:
            lines.append(f"  estimated vs true accuracy, unblocked workers: mean absolute gap {error:.3f}")
        return lines

    def _worker_line(self, worker: SimWorker) -> str:
        record = self._record(worker) or {}
        score = "-" if worker.test_score is None else f"{worker.test_score:.2f}"
        gold = f"{record['gold_correct']}/{record['gold_answered']}" if record else "-"
        estimate = _pct(record.get("estimated_accuracy"))
        if record.get("blocked") and record.get("estimated_accuracy") is not None:
            estimate = f"({estimate})"  # from an aggregation before the block: later ones leave them out
        status = "failed test" if not worker.qualified else ("BLOCKED" if record.get("blocked") else "ok")
        overall = _pct(self.dataset.accuracy(worker.source)) if worker.source else "-"
        return (
            f"  {worker.name:<10} {worker.kind:<13} {score:>5} {record.get('submitted_assignments', 0):>5} "
            f"{gold:>6} {estimate:>7} {_pct(self.true_accuracy(worker)):>6} {overall:>5}  {status}"
        )

    def _money_lines(self) -> list[str]:
        m = self.money()
        sent = sum(amount for _, amount, status in self.payouts if status == "sent")
        ledger = "not checked" if self.ledger is None else ("sums to zero" if self.ledger_balanced() else "UNBALANCED")
        return [
            f"  money (requester): deposited {_usd(m['deposited'])} in {len(self.deposits)} deposits (each sent twice "
            f"with one Idempotency-Key, charged once), escrowed {_usd(m['escrowed'])}, paid for work "
            f"{_usd(m['paid_for_work'])}, refunded {_usd(m['refunded'])}, still in escrow {_usd(m['in_escrow'])} "
            f"(held for appeals), available {_usd(m['available'])}",
            f"  payouts: {len(self.payouts)} workers paid out {_usd(sent)}; {len(self.payouts_too_small)} below the "
            "payout minimum",
            f"  ledger: {ledger} {self.ledger or ''}",
            f"  users: {self.users}",
        ]


def render_quality_by_seed(reports: list["Report"]) -> str:
    """One line per run: the spammers kept out, the real workers blocked with their true accuracy, the target."""
    lines = ["quality control by seed (target: every spammer kept out, at most one real worker >= 70% blocked)"]
    for report in reports:
        s = report.summary()
        met = s["spammers_kept_out"] and len(s["good_blocked"]) <= 1
        lines.append(
            f"  seed {report.seed}: {'met' if met else 'MISSED'}; spammers: "
            f"{'; '.join(f'{name} {outcome}' for name, outcome in s['spammers'].items())}; real workers blocked: "
            f"{report.real_blocked_line()}"
        )
    met = sum(r.spammers_kept_out() and len(r.good_blocked()) <= 1 for r in reports)
    lines.append(f"  target met on {met} of {len(reports)} seeds")
    return "\n".join(lines)


def _estimate(e: dict[str, Any]) -> str:
    if e["value"] is None:
        return "undefined"
    return f"{e['value']:.3f} [{e['low']:.3f}, {e['high']:.3f}]"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _usd(cents: int) -> str:
    return f"${cents / 100:,.2f}"
