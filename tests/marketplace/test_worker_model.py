"""The worker model per job (`Job.worker_model`): full Dawid-Skene unless the requester pins one-coin or asks for
`auto`, the cross-validated choice at each run; every run stores which model it fitted and why, and the requester
(only the requester) sees it."""

from collections import Counter

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse

from marketplace.models import (
    Answer,
    Item,
    ItemResult,
    JobAggregate,
    JobStatus,
    ModelQuality,
    Participation,
    WorkerModel,
)
from marketplace.services.aggregation import job_aggregate
from marketplace.services.jobs import job_transition
from marketplace.services.worker_model import PINNED
from tests.factories import JobFactory
from tests.marketplace.test_aggregation import crowd_job, honest, run_crowd, spammer, swapper, truth_of
from tests.marketplace.test_model_annotators import gold_or_truth, mediocre, predict

pytestmark = pytest.mark.django_db

JOB = {"title": "t", "label_schema": {"type": "single_choice", "classes": ["a", "b"]}, "reward_cents": 5}
CROWD = [honest, honest, swapper, swapper, spammer]


def aggregated(requester, worker_model: str | None, *, crowd=CROWD, n_items=30, n_gold=30) -> JobAggregate:
    """A crowd's answers on a launched job, aggregated once; `worker_model` None: the job's default."""
    chosen = {"worker_model": worker_model} if worker_model else {}
    job = crowd_job(requester, n_items=n_items, n_gold=n_gold, **chosen)
    run_crowd(job, crowd)
    return job_aggregate(job_id=job.pk)


def confusion_of_a_swapper(aggregate: JobAggregate) -> np.ndarray:
    """The stored confusion matrix (rows: the true class, in CLASSES order) of the worker who answered dog for cat
    most often: a swapper, who always does."""
    answers = Answer.objects.filter(job_id=aggregate.job_id, value="dog").values_list("worker_id", "item__payload")
    worker_id = Counter(w for w, payload in answers if truth_of(payload) == "cat").most_common(1)[0][0]
    return np.array(Participation.objects.get(job_id=aggregate.job_id, worker_id=worker_id).confusion)


def test_a_job_runs_full_dawid_skene_unless_the_requester_says_otherwise(requester, requester_api):
    created = requester_api.post("/api/v1/jobs/", JOB, format="json")
    aggregate = aggregated(requester, None)

    assert created.status_code == 201 and created.json()["worker_model"] == "dawid_skene"
    assert (aggregate.worker_model, aggregate.worker_model_reason, aggregate.worker_model_scores) == (
        "dawid_skene",
        PINNED,
        {},
    )
    swapper_rows = confusion_of_a_swapper(aggregate)
    assert swapper_rows[0, 1] > 0.8 and swapper_rows[1, 0] > 0.8  # cat read as dog, dog as cat: a full matrix


def test_a_job_pinned_to_one_coin_fits_one_accuracy_per_worker(requester):
    aggregate = aggregated(requester, WorkerModel.ONE_COIN)

    assert (aggregate.worker_model, aggregate.worker_model_reason) == ("one_coin", PINNED)
    swapper_rows = confusion_of_a_swapper(aggregate)
    off_diagonal = swapper_rows[~np.eye(3, dtype=bool)]
    assert np.allclose(off_diagonal, off_diagonal[0], atol=1e-4)  # errors spread evenly: one number per worker
    assert np.allclose(np.diag(swapper_rows), swapper_rows[0, 0], atol=1e-4)


def test_auto_stores_the_model_that_best_predicts_held_out_answers_and_its_scores(requester):
    aggregate = aggregated(requester, WorkerModel.AUTO)

    scores = aggregate.worker_model_scores
    assert set(scores) == {"one_coin", "class_one_coin", "dawid_skene"}
    assert all(isinstance(s, float) for s in scores.values())
    assert aggregate.worker_model == max(scores, key=scores.get)
    # Swappers confuse two classes every time: only a full confusion matrix predicts their answers (class one-coin
    # knows they miss cats and dogs, not that each is read as the other).
    assert aggregate.worker_model == "dawid_skene"
    assert aggregate.worker_model_reason.startswith("chosen: best mean log-probability of held-out answers")
    assert f"dawid_skene {scores['dawid_skene']:.4f}" in aggregate.worker_model_reason


def test_auto_picks_one_coin_where_many_workers_each_give_few_answers_and_err_evenly(requester):
    # Fifteen workers right 70% of the time, their errors spread evenly (one-coin's own model), a dozen answers each:
    # too few to estimate a confusion matrix per worker.
    job = crowd_job(requester, n_items=30, n_gold=30, worker_model=WorkerModel.AUTO, overlap_min=3, overlap_max=3)
    run_crowd(job, [mediocre] * 15)

    aggregate = job_aggregate(job_id=job.pk)

    assert aggregate.worker_model == "one_coin"
    assert aggregate.worker_model_scores["one_coin"] > aggregate.worker_model_scores["dawid_skene"]


def test_auto_with_fewer_answers_than_folds_takes_one_coin_and_says_why(requester):
    job = crowd_job(requester, n_items=2, n_gold=3, worker_model=WorkerModel.AUTO, overlap_min=1, overlap_max=1)
    run_crowd(job, [honest])

    aggregate = job_aggregate(job_id=job.pk)
    aggregate.refresh_from_db()

    assert aggregate.n_answers < 5
    assert aggregate.worker_model == "one_coin"
    assert aggregate.worker_model_scores == {"one_coin": None, "class_one_coin": None, "dawid_skene": None}  # no NaN
    assert (
        aggregate.worker_model_reason == "chosen: too few answers to cross-validate, the model with fewest parameters"
    )


@pytest.mark.parametrize("worker_model", [WorkerModel.ONE_COIN, WorkerModel.AUTO])
def test_a_model_annotator_is_weighed_under_either_model(requester, worker_model):
    job = crowd_job(requester, n_items=12, n_gold=6, worker_model=worker_model)
    predict(job, "good-v1", gold_or_truth)
    run_crowd(job, [honest, spammer, spammer])

    aggregate = job_aggregate(job_id=job.pk)

    quality = ModelQuality.objects.get(job=job, model="good-v1")
    assert aggregate.worker_model in ("one_coin", "dawid_skene")
    people = sorted(Participation.objects.filter(job=job).values_list("estimated_accuracy", flat=True))
    assert quality.predictions == Item.objects.filter(job=job, is_gold=False).count()
    assert quality.estimated_accuracy > people[1]  # above both spammers
    results = ItemResult.objects.filter(job=job).values_list("label", "item__payload")
    assert all(label == truth_of(payload) for label, payload in results)
    assert not Participation.objects.filter(job=job, worker_id__lt=0).exists()  # never counted as a person


def test_the_aggregation_api_shows_the_model_and_why_to_its_requester_only(requester, requester_api, outsider_api):
    aggregate = aggregated(requester, WorkerModel.AUTO, crowd=[honest, honest, spammer], n_items=9, n_gold=6)
    path = f"/api/v1/jobs/{aggregate.job_id}/aggregation/"

    shown = requester_api.get(path)
    hidden = outsider_api.get(path)

    assert shown.status_code == 200
    body = shown.json()
    assert body["worker_model"] == aggregate.worker_model
    assert body["worker_model_reason"] == aggregate.worker_model_reason
    assert body["worker_model_scores"] == pytest.approx(aggregate.worker_model_scores)
    assert hidden.status_code == 404 and "worker_model" not in hidden.json()


def test_a_bad_worker_model_is_a_400_naming_the_field(requester_api):
    response = requester_api.post("/api/v1/jobs/", {**JOB, "worker_model": "bayes"}, format="json")

    assert response.status_code == 400 and "worker_model" in response.json()["extra"]["fields"]


def test_another_answer_type_refuses_a_worker_model_but_takes_the_default(requester_api):
    text = {**JOB, "label_schema": {"type": "text"}}

    refused = requester_api.post("/api/v1/jobs/", {**text, "worker_model": "one_coin"}, format="json")
    accepted = requester_api.post("/api/v1/jobs/", {**text, "worker_model": "dawid_skene"}, format="json")

    assert refused.status_code == 400 and "worker_model" in refused.json()["extra"]["fields"]
    assert accepted.status_code == 201


def test_the_requester_pins_a_model_while_the_job_runs_and_it_reaggregates(requester, requester_api, callbacks):
    job = crowd_job(requester, n_items=9, n_gold=6, worker_model=WorkerModel.AUTO)
    run_crowd(job, [honest, honest, spammer])
    job_aggregate(job_id=job.pk)

    with callbacks(execute=True):
        pinned = requester_api.patch(f"/api/v1/jobs/{job.pk}/", {"worker_model": "dawid_skene"}, format="json")

    assert pinned.status_code == 200 and pinned.json()["worker_model"] == "dawid_skene"
    aggregate = JobAggregate.objects.get(job=job)
    assert (aggregate.worker_model, aggregate.worker_model_reason) == ("dawid_skene", PINNED)


def test_a_finished_job_keeps_its_worker_model(requester, requester_api):
    job = JobFactory(requester=requester)
    job_transition(job=job, action="cancel")

    response = requester_api.patch(f"/api/v1/jobs/{job.pk}/", {"worker_model": "one_coin"}, format="json")

    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert response.status_code == 409 and job.worker_model == "dawid_skene"


def test_the_results_page_says_which_model_ran_and_why(requester, client: Client):
    aggregate = aggregated(requester, WorkerModel.ONE_COIN, crowd=[honest, spammer], n_items=3, n_gold=3)
    client.force_login(requester)

    html = client.get(reverse("web:requester:results", args=[aggregate.job_id])).content.decode()

    assert "Worker model: one-coin (pinned by the requester)" in html
