"""The demo's second job, of a new answer type: a rating (`number`) job with real answers. 20 news headlines rated
for anger (0-100) by the 10 Mechanical Turk workers who rated all 20 in Snow et al.'s affect data
(`snow_anger_*.csv`, see README.md); each simulated rater answers with their real rating. The job is posted,
launched, worked and aggregated through the HTTP API like the bird job, by a requester of its own (so the bird
job's money figures stay its own), and its results are compared with the experts' mean rating: the engine's bias
and noise EM, and the plain mean of the same answers (from the raw-answers export)."""

import csv
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from marketplace.client import ApiError, Client
from marketplace.demo.crowd import DEMO_DIR
from marketplace.demo.network import Network

SCHEMA = {"type": "number", "min": 0, "max": 100, "step": 1, "tolerance": 10}
OVERLAP, ITEMS_PER_TASK = 10, 5  # every rater rates every headline, as in the data set


@dataclass
class RatingData:
    ratings: dict[str, dict[str, int]]  # worker -> headline -> rating
    truth: dict[str, float]  # headline -> the experts' mean


def load_snow_anger() -> RatingData:
    ratings: dict[str, dict[str, int]] = {}
    with (DEMO_DIR / "snow_anger_answers.csv").open() as fh:
        for row in csv.DictReader(fh):
            ratings.setdefault(row["worker"], {})[row["headline"]] = int(row["rating"])
    with (DEMO_DIR / "snow_anger_truth.csv").open() as fh:
        truth = {row["headline"]: float(row["anger"]) for row in csv.DictReader(fh)}
    return RatingData(ratings, truth)


@dataclass
class RatingReport:
    job_id: int = 0
    status: str = ""
    answers: int = 0
    estimates: dict[str, float] = field(default_factory=dict)  # headline -> the aggregate
    confidence: dict[str, float] = field(default_factory=dict)
    means: dict[str, float] = field(default_factory=dict)  # headline -> the plain mean of its answers
    truth: dict[str, float] = field(default_factory=dict)

    def quality(self, values: dict[str, float]) -> dict[str, float | None]:
        """Pearson r and mean absolute error against the experts' mean, on the job's headlines."""
        if len(values) < 2:
            return {"r": None, "mae": None}
        keys = sorted(values)
        ours, truth = [values[k] for k in keys], [self.truth[k] for k in keys]
        mae = sum(abs(a - b) for a, b in zip(ours, truth, strict=True)) / len(keys)
        return {"r": round(statistics.correlation(ours, truth), 3), "mae": round(mae, 2)}

    def summary(self) -> dict[str, Any]:
        return {
            "type": "number",
            "job_status": self.status,
            "items": len(self.estimates),
            "answers": self.answers,
            "em": self.quality(self.estimates),
            "mean": self.quality(self.means),
        }

    def render(self) -> list[str]:
        em, mean = self.quality(self.estimates), self.quality(self.means)
        confident = sum(c >= 0.95 for c in self.confidence.values())
        return [
            "",
            "Rating job (answer type number, 0-100): anger of 20 news headlines, 10 real raters (Snow et al. 2008)",
            f"  job #{self.job_id} {self.status}: {len(self.estimates)} headlines, {self.answers} answers "
            f"({OVERLAP} per headline); {confident} estimates within 10 points at >= 95% confidence",
            f"  against the experts' mean: bias + noise EM r {em['r']}, MAE {em['mae']}; "
            f"plain mean of the same answers r {mean['r']}, MAE {mean['mae']}",
        ]


def run_rating_job(
    network: Network,
    *,
    email: Callable[[str], str],
    password: str,
    seed: int,
    reward_cents: int,
    aggregate: Callable[[Client, int], Any],
) -> RatingReport:
    data, rng = load_snow_anger(), random.Random(seed + 19)  # noqa: S311 -- a simulation, not security
    report = RatingReport(truth=data.truth)
    requester = network.client("10.3.0.1")
    requester.signup(email("rating-requester"), password, is_requester=True)
    job = requester.create_job(
        title="How angry is this headline? (0-100)",
        instructions="Rate the anger the headline expresses, from 0 (none) to 100 (the most).",
        label_schema=SCHEMA,
        item_schema={"fields": [{"name": "headline", "type": "string"}]},
        overlap_min=OVERLAP,
        overlap_max=OVERLAP,
        items_per_task=ITEMS_PER_TASK,
        reward_cents=reward_cents,
        gold_ratio="0",
    )
    report.job_id = job["id"]
    items = "external_id,headline\n" + "".join(f"{h},{h}\n" for h in sorted(data.truth, key=int))
    requester.upload(report.job_id, items.encode(), name="headlines.csv")
    _fund_and_launch(requester, report.job_id, email("rating-requester"))

    raters = []
    for n, worker in enumerate(sorted(data.ratings)):
        api = network.client(f"10.3.1.{n + 1}")
        api.signup(email(f"rater{n}"), password, is_worker=True)
        raters.append((api, data.ratings[worker]))
    working = True
    while working:
        working = False
        for api, ratings in rng.sample(raters, len(raters)):
            try:
                claim = api.claim(report.job_id)
            except ApiError as refused:
                if refused.code in ("no_work_available", "not_eligible"):
                    continue
                raise
            api.submit(claim["id"], {item["position"]: ratings[item["payload"]["headline"]] for item in claim["items"]})
            working = True

    aggregate(requester, report.job_id)
    report.status = requester.job(report.job_id)["status"]
    for result in requester.result_list(report.job_id):
        report.estimates[result["external_id"]] = float(result["label"])
        report.confidence[result["external_id"]] = float(result["confidence"])
    for row in requester.results(report.job_id, answers=True):
        given = [float(a["answer"]) for a in row["answers"]]
        report.answers += len(given)
        report.means[row["external_id"]] = sum(given) / len(given)
    return report


def _fund_and_launch(requester: Client, job_id: int, who: str) -> None:
    cost = requester.cost(job_id)["total_cents"]
    requester.deposit(cost, "USD", idempotency_key=f"{who}-deposit")
    requester.launch(job_id)
