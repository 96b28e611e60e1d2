"""Aggregation in the marketplace: a simulated crowd labels a job; Dawid-Skene results, exports, worker quality,
and adaptive overlap."""

import csv
import io
import json
import random
from decimal import Decimal

import krippendorff
import numpy as np
import pytest
from django.db.models import F

from marketplace.errors import NotEligible, NoWorkAvailable
from marketplace.models import Answer, ItemResult, Job, JobAggregate, JobStatus, MicroTask, Participation
from marketplace.selectors import assignment_items
from marketplace.services.assignments import assignment_claim, assignment_submit
from marketplace.services.jobs import job_transition
from marketplace.services.uploads import upload_receive
from tests.factories import JobFactory, WorkerFactory
from tests.marketplace.helpers import csv_file, fund

# Real commits: each submit's on-commit hooks (aggregation every N answers, on completion) run as in production.
pytestmark = pytest.mark.django_db(transaction=True)
CLASSES = ["cat", "dog", "bird"]


def crowd_job(requester, *, n_items=30, n_gold=30, **fields) -> Job:
    """A job whose image URLs carry the true class, so simulated workers can answer well or badly on purpose."""
    rng = random.Random(3)
    truth = [rng.choice(CLASSES) for _ in range(n_items)]
    # Gold blocking is switched off (min_gold=1000): these tests are about aggregation; quality control is tested in
    # test_quality.py.
    fields = {
        "items_per_task": 1,
        "overlap_min": 5,
        "overlap_max": 5,
        "gold_ratio": Decimal("0.2"),
        "min_gold": 1000,
        **fields,
    }
    job = JobFactory(requester=requester, max_open_assignments=1, **fields)
    items = "external_id,image_url\n" + "".join(f"i{i},https://example.com/{t}/{i}.jpg\n" for i, t in enumerate(truth))
    gold = "image_url,gold_label\n" + "".join(
        f"https://example.com/{c}/g{i}.jpg,{c}\n" for i, c in enumerate(CLASSES * (n_gold // 3))
    )
    upload_receive(job=job, user=requester, file=csv_file(items), kind="items")
    upload_receive(job=job, user=requester, file=csv_file(gold, "gold.csv"), kind="gold")
    fund(job)
    return job_transition(job=job, action="launch")


def truth_of(payload: dict) -> str:
    return payload["image_url"].split("/")[3]


def honest(payload, rng):
    return truth_of(payload)


def swapper(payload, rng):
    """Confuses cats and dogs, every time: majority vote cannot tell, Dawid-Skene learns it."""
    return {"cat": "dog", "dog": "cat"}.get(truth_of(payload), truth_of(payload))


def spammer(payload, rng):
    return rng.choice(CLASSES)


def run_crowd(job: Job, behaviours: list, seed: int = 0) -> int:
    """Workers take turns claiming and answering until a whole round gives nobody work. Returns submissions."""
    rng, workers = random.Random(seed), [(WorkerFactory(), b) for b in behaviours]
    submitted, progress = 0, True
    while progress:
        progress = False
        for worker, behave in workers:
            try:
                assignment = assignment_claim(job_id=job.pk, worker=worker, rng=rng)
            except (NoWorkAvailable, NotEligible):
                continue
            items = assignment_items(assignment=assignment)
            answers = [{"position": p, "answer": behave(i.payload, rng)} for p, i in enumerate(items)]
            assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers)
            submitted, progress = submitted + 1, True
    return submitted


def accuracy(job: Job) -> float:
    results = ItemResult.objects.filter(job=job).select_related("item")
    return sum(r.label == truth_of(r.item.payload) for r in results) / results.count()


def test_a_completed_job_is_aggregated_with_dawid_skene(requester):
    job = crowd_job(requester)

    run_crowd(job, [honest, honest, swapper, swapper, spammer, honest])

    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    aggregate = JobAggregate.objects.get(job=job)
    assert (aggregate.n_items, aggregate.converged) == (30, True)
    assert ItemResult.objects.filter(job=job).count() == 30  # gold items get no result row
    assert accuracy(job) == 1.0  # two swappers and a spammer against three honest workers
    quality = {p.worker.email: p for p in Participation.objects.filter(job=job).select_related("worker")}
    by_kind = sorted(quality.values(), key=lambda p: p.estimated_accuracy)
    assert by_kind[0].estimated_accuracy < 0.6 < by_kind[-1].estimated_accuracy
    assert all(len(p.confusion) == 3 and len(p.confusion[0]) == 3 for p in by_kind)


def test_the_job_is_re_aggregated_after_every_n_answers(requester, settings):
    settings.AGGREGATE_EVERY_ANSWERS = 10
    job = crowd_job(requester, n_items=12, overlap_min=3, overlap_max=3)
    worker = WorkerFactory()

    for _ in range(10):
        assignment = assignment_claim(job_id=job.pk, worker=worker)
        items = assignment_items(assignment=assignment)
        answers = [{"position": p, "answer": truth_of(i.payload)} for p, i in enumerate(items)]
        assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers)

    aggregate = JobAggregate.objects.get(job=job)
    assert aggregate.n_answers >= 10
    assert Job.objects.get(pk=job.pk).status == JobStatus.ACTIVE


def test_adaptive_overlap_spends_answers_where_the_crowd_disagrees(requester):
    job = crowd_job(requester, n_items=24, n_gold=24, overlap_min=2, overlap_max=6, gold_ratio=Decimal("0.2"))

    run_crowd(job, [honest, spammer, honest, spammer, honest, honest, spammer], seed=5)

    job.refresh_from_db()
    targets = list(MicroTask.objects.filter(job=job).values_list("overlap_target", flat=True))
    assert job.status == JobStatus.COMPLETED
    assert min(targets) == 2 and max(targets) > 2  # confident items stopped early; doubtful ones got more answers
    assert sum(targets) < 24 * 6
    assert not MicroTask.objects.filter(job=job, submitted_count__lt=F("overlap_target")).exists()
    assert accuracy(job) >= 0.9


class TestResultsApi:
    @pytest.fixture
    def done_job(self, requester):
        # A gold ratio of 0.5 puts exactly one gold item beside each single-item task.
        job = crowd_job(requester, n_items=9, overlap_min=3, overlap_max=3, gold_ratio=Decimal("0.5"))
        run_crowd(job, [honest, honest, honest, spammer])
        return job

    def test_the_requester_lists_labels_with_confidence_and_filters_the_doubtful(self, requester_api, done_job):
        results = requester_api.get(f"/api/v1/jobs/{done_job.pk}/results/").json()
        confident = requester_api.get(f"/api/v1/jobs/{done_job.pk}/results/", {"min_confidence": 0.9}).json()

        assert results["count"] == 9
        first = results["results"][0]
        assert set(first) == {
            *("id", "external_id", "payload", "label", "confidence", "answer_count", "posterior", "part_confidence")
        }
        assert first["label"] == truth_of(first["payload"]) and first["answer_count"] == 3
        assert first["part_confidence"] is None  # boxes and spans only
        assert confident["count"] <= 9

    def test_the_export_streams_csv_and_jsonl_with_optional_raw_answers(self, requester_api, done_job):
        csv_response = requester_api.get(f"/api/v1/jobs/{done_job.pk}/results/export/")
        jsonl_response = requester_api.get(
            f"/api/v1/jobs/{done_job.pk}/results/export/", {"file_format": "jsonl", "answers": "true"}
        )

        rows = list(csv.DictReader(io.StringIO(b"".join(csv_response.streaming_content).decode())))
        lines = [json.loads(line) for line in b"".join(jsonl_response.streaming_content).decode().splitlines()]
        assert csv_response["Content-Type"] == "text/csv"
        assert len(rows) == 9 and rows[0]["label"] == truth_of(json.loads(rows[0]["payload"]))
        assert len(lines) == 9 and all(len(line["answers"]) == 3 for line in lines)
        assert {"worker", "answer"} == set(lines[0]["answers"][0])

    def test_the_export_takes_its_file_format_as_format_and_still_as_file_format(self, requester_api, done_job):
        path = f"/api/v1/jobs/{done_job.pk}/results/export/"

        by_format = requester_api.get(path, {"format": "jsonl"})
        by_file_format = requester_api.get(path, {"file_format": "jsonl"})

        assert by_format.status_code == by_file_format.status_code == 200
        assert by_format["Content-Type"] == by_file_format["Content-Type"] == "application/x-ndjson"
        assert b"".join(by_format.streaming_content) == b"".join(by_file_format.streaming_content)

    def test_an_unknown_export_format_is_a_400_naming_the_parameter(self, requester_api, done_job):
        response = requester_api.get(f"/api/v1/jobs/{done_job.pk}/results/export/", {"format": "xlsx"})

        assert response.status_code == 400
        assert response.json()["extra"]["fields"] == {"format": ["Choose one of csv, jsonl."]}

    def test_the_requester_sees_each_workers_quality(self, requester_api, done_job):
        workers = requester_api.get(f"/api/v1/jobs/{done_job.pk}/workers/").json()["results"]

        assert len(workers) == 4
        assert all(w["estimated_accuracy"] is not None and len(w["confusion"]) == 3 for w in workers)
        assert sum(w["gold_answered"] for w in workers) > 0

    def test_the_aggregation_summary_and_a_manual_rerun(self, requester_api, done_job):
        summary = requester_api.get(f"/api/v1/jobs/{done_job.pk}/aggregation/").json()
        rerun = requester_api.post(f"/api/v1/jobs/{done_job.pk}/aggregation/")

        assert summary["method"] == "ds" and summary["n_items"] == 9 and summary["converged"] is True
        assert rerun.status_code == 202

    def test_the_requester_reads_the_crowds_agreement_computed_from_the_real_answers(
        self, requester_api, done_job, django_assert_max_num_queries
    ):
        with django_assert_max_num_queries(3):  # the requester, the job, the answers (blocked workers a subquery)
            body = requester_api.get(f"/api/v1/jobs/{done_job.pk}/agreement/").json()
        rows = Answer.objects.filter(job=done_job, is_gold=False).values_list("item_id", "worker_id", "value")
        items, workers = sorted({r[0] for r in rows}), sorted({r[1] for r in rows})
        data = np.full((len(workers), len(items)), np.nan)
        for item, worker, value in rows:
            data[workers.index(worker), items.index(item)] = CLASSES.index(value)

        alpha = body["krippendorff_alpha"]
        assert alpha["value"] == pytest.approx(
            krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
        )
        assert alpha["low"] <= alpha["value"] <= alpha["high"] and alpha["items"] == 9
        assert body["answers"] == len(rows) == 27
        assert set(body["per_class"]) == set(CLASSES) and body["fleiss_kappa"]["value"] is not None

    def test_neither_a_worker_of_the_job_nor_an_anonymous_client_reads_the_agreement(self, api, done_job):
        worker = Participation.objects.filter(job=done_job).first().worker

        assert api.as_user(worker).get(f"/api/v1/jobs/{done_job.pk}/agreement/").status_code == 403
        assert api.get(f"/api/v1/jobs/{done_job.pk}/agreement/").status_code == 401

    @pytest.mark.parametrize("path", ["results/", "results/export/", "workers/", "aggregation/", "agreement/"])
    def test_another_requester_sees_none_of_it(self, outsider_api, done_job, path):
        assert outsider_api.get(f"/api/v1/jobs/{done_job.pk}/{path}").status_code == 404

    def test_a_worker_sees_their_own_gold_accuracy_but_never_the_gold_items(self, api, done_job):
        participation = Participation.objects.filter(job=done_job, gold_answered__gt=0).first()

        body = api.as_user(participation.worker).get("/api/v1/work/quality/").json()

        row = body["results"][0]
        assert (row["job"], row["gold_answered"], row["gold_correct"]) == (
            done_job.pk,
            participation.gold_answered,
            participation.gold_correct,
        )
        assert "example.com" not in json.dumps(body)
