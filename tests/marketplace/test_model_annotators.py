"""Models in the loop: every model version with predictions on a job is one more annotator in its aggregation. Its
weight is earned from gold and from the crowd (a good model settles what people split on; a bad one ends with a low
weight and changes no label); it never counts as a person's answer, is never paid, is not screened by gold, and its
record is reported per version."""

import contextlib
import random
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.test import Client
from django.urls import reverse

from marketplace.errors import NoWorkAvailable
from marketplace.models import Item, ItemResult, JobStatus, ModelQuality, Participation, Prediction
from marketplace.selectors_models import model_report_list
from marketplace.services.aggregation import job_aggregate
from marketplace.services.assignments import assignment_claim
from marketplace.services.predictions import predictions_put
from tests.factories import WorkerFactory
from tests.marketplace.test_aggregation import CLASSES, crowd_job, run_crowd, truth_of
from tests.marketplace.test_answer_types_quality import CASES, submit, typed_job
from tests.marketplace.test_answer_types_quality import truth_of as typed_truth

pytestmark = pytest.mark.django_db(transaction=True)


def gold_or_truth(item: Item) -> str:
    return item.gold_answer if item.is_gold else truth_of(item.payload)


def predict(job, model: str, answer_of) -> None:
    """A model's prediction on every item of the job, gold included (as a job showing pre-labels needs)."""
    items = Item.objects.filter(job=job).order_by("pk")
    predictions_put(job=job, predictions=[{"item": i.pk, "model": model, "answer": answer_of(i)} for i in items])


def labels(job) -> dict[int, str]:
    return dict(ItemResult.objects.filter(job=job).values_list("item_id", "label"))


def right(job) -> int:
    return sum(label == truth_of(Item.objects.get(pk=i).payload) for i, label in labels(job).items())


def mediocre(payload, rng):
    """Right 70% of the time: one such answer alone is not enough for the job's confidence target."""
    return truth_of(payload) if rng.random() < 0.7 else rng.choice([c for c in CLASSES if c != truth_of(payload)])


def test_a_good_model_settles_what_people_split_on_and_a_bad_one_changes_nothing(requester, api):
    job = crowd_job(requester, n_items=30, n_gold=30, overlap_min=3, overlap_max=3)
    predict(job, "bad-v1", lambda item: "bird")  # always the same class: says nothing about any item
    predict(job, "good-v2", gold_or_truth)
    run_crowd(job, [mediocre] * 4, seed=2)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    with_both = labels(job)
    quality = dict(ModelQuality.objects.filter(job=job).values_list("model", "estimated_accuracy"))
    reports = api.as_user(requester).get(f"/api/v1/jobs/{job.pk}/models/").json()
    browser = Client()
    browser.force_login(requester)
    dashboard = browser.get(reverse("web:requester:dashboard", args=[job.pk])).content.decode()

    Prediction.objects.filter(model="good-v2").delete()
    job_aggregate(job_id=job.pk)
    with_bad = labels(job)
    Prediction.objects.all().delete()
    job_aggregate(job_id=job.pk)
    people_only = labels(job)

    both_right = sum(label == truth_of(Item.objects.get(pk=i).payload) for i, label in with_both.items())
    assert right(job) < both_right >= 29  # where people split or are wrong together, the model decides
    assert with_bad == people_only  # the constant model changed nothing
    counts = set(ItemResult.objects.filter(job=job).values_list("answer_count", flat=True))
    assert counts == {3}  # people's answers only: a model never counts toward an item's overlap
    assert Participation.objects.filter(job=job).count() == 4  # no participation, so no pay and no gold screening
    assert quality["good-v2"] > 0.85 > 0.5 > quality["bad-v1"]  # earned (Dawid-Skene's prior keeps it below 1)
    assert not ModelQuality.objects.filter(job=job).exists()  # a run without predictions keeps no model's record
    assert [r["model"] for r in reports] == ["bad-v1", "good-v2"]
    bad, good = reports
    assert (good["gold_answered"], good["gold_right"]) == (30, 30)
    assert good["labels_compared"] == good["labels_agreed"] == 30
    assert bad["gold_right"] == 10 and bad["gold_confusion"][CLASSES.index("bird")] == [0, 0, 10]
    assert good["predictions"] == good["aggregated_predictions"] == 60 and len(good["confusion"]) == 3
    assert good["classes"] == CLASSES
    assert "<td>good-v2</td><td>60</td>" in dashboard and "<td>bad-v1</td><td>60</td>" in dashboard


def test_model_reports_are_the_requesters_alone(requester, api, outsider):
    job = crowd_job(requester, n_items=3, n_gold=3, overlap_min=1, overlap_max=1)

    assert api.as_user(outsider).get(f"/api/v1/jobs/{job.pk}/models/").status_code == 404
    assert api.as_user(WorkerFactory()).get(f"/api/v1/jobs/{job.pk}/models/").status_code == 403
    assert api.as_user(requester).get(f"/api/v1/jobs/{job.pk}/models/").json() == []


def adaptive_job(requester, *, model_accuracy: float | None):
    """60 items, one to four answers each, answered by five workers right 70% of the time; with a model right
    `model_accuracy` of the time (its mistakes all "bird") predicting every item, gold included. (On 30 items the
    fitted matrices are rough, the job's gold says Dawid-Skene over-states its confidence, and the calibrated,
    honest confidence asks for more answers than the model saves.)"""
    job = crowd_job(
        requester, n_items=60, n_gold=60, overlap_min=1, overlap_max=4, gold_ratio=Decimal("0.2"), min_gold=1000
    )
    if model_accuracy is not None:
        rng = random.Random(9)
        predict(job, "resnet-v1", lambda i: gold_or_truth(i) if rng.random() < model_accuracy else "bird")
    run_crowd(job, [mediocre] * 5, seed=4)
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    return ItemResult.objects.filter(job=job).aggregate(n=Sum("answer_count"))["n"], right(job)


def test_adaptive_overlap_counts_a_models_evidence_and_pays_fewer_answers(requester):
    people_paid, people_right = adaptive_job(requester, model_accuracy=None)
    model_paid, model_right = adaptive_job(requester, model_accuracy=0.85)

    # An item where the model and one person agree stops at one paid answer; the model's doubtful ones get more.
    assert model_paid <= 0.75 * people_paid, (model_paid, people_paid)
    assert model_right >= people_right - 1


@pytest.mark.parametrize("name", ["multi_choice", "number"])
def test_a_model_is_an_annotator_of_other_answer_types_too(name, requester):
    case = CASES[name]
    job = typed_job(
        requester, case, n_items=8, n_gold=8, items_per_task=1, gold_ratio=Decimal("0.5"), min_gold=1000,
        overlap_min=2, overlap_max=2, max_open_assignments=10,
    )  # fmt: skip
    predict(job, "model-v1", lambda item: typed_truth(case, item))
    workers = WorkerFactory.create_batch(2)
    for _ in range(8):
        for worker in workers:
            with contextlib.suppress(NoWorkAvailable):
                submit(assignment_claim(job_id=job.pk, worker=worker), worker, lambda item: typed_truth(case, item))

    job_aggregate(job_id=job.pk)

    learned = ModelQuality.objects.get(job=job)
    assert learned.model == "model-v1" and learned.predictions == 16 and learned.estimated_accuracy > 0.5
    (report,) = model_report_list(job=job)
    assert (report.gold_answered, report.gold_right) == (8, 8)
    assert report.labels_compared == report.labels_agreed == 8
    assert set(ItemResult.objects.filter(job=job).values_list("answer_count", flat=True)) == {2}


def test_the_report_measures_how_often_workers_keep_a_wrong_pre_label_shown_or_hidden(requester):
    def job_with_model(shown: bool, answer_of):
        job = crowd_job(requester, n_items=6, n_gold=6, overlap_min=2, overlap_max=2, gold_ratio=Decimal("0.5"))
        predict(job, "m1", lambda item: "bird")  # wrong on every gold item whose key is not "bird"
        if shown:  # set after launch here only to keep the setup short (the API sets it on the draft)
            type(job).objects.filter(pk=job.pk).update(prelabel_model="m1")
        run_crowd(job, [answer_of, answer_of, answer_of], seed=1)
        job.refresh_from_db()
        (report,) = model_report_list(job=job)
        return report

    followed = job_with_model(True, lambda payload, rng: "bird")  # workers who keep whatever the pre-label says
    hidden = job_with_model(False, lambda payload, rng: truth_of(payload))

    assert followed.shown and not hidden.shown
    assert followed.answers_where_wrong > 0 and followed.answers_kept_wrong == followed.answers_where_wrong
    assert hidden.answers_where_wrong > 0 and hidden.answers_kept_wrong == 0


def test_a_models_score_counts_for_what_it_proved_worth_on_the_job(requester, api):
    """A model right where it is sure (scores above 0.9) and always "bird" where it is not (scores near 0.5), beside
    one person per item, right 70% of the time: its sure predictions earn a weight that overrules the person; its
    doubtful ones none. The same predictions without their scores are one annotator of middling weight, and the
    labels are worse. What is stored and reported is the model version, its bands weighed in."""
    job = crowd_job(requester, n_items=240, n_gold=30, overlap_min=1, overlap_max=1)
    items = list(Item.objects.filter(job=job).order_by("pk"))
    rng = random.Random(5)
    sure = {item.pk: rng.random() < 0.5 for item in items}
    predictions_put(
        job=job,
        predictions=[
            {
                "item": item.pk,
                "model": "resnet-v3",
                "answer": gold_or_truth(item) if sure[item.pk] else "bird",
                "score": round(rng.uniform(0.9, 1.0) if sure[item.pk] else rng.uniform(0.45, 0.55), 4),
            }
            for item in items
        ],
    )
    run_crowd(job, [mediocre] * 9, seed=6)  # a worker sees each gold item once: 30 tasks each at most
    job.refresh_from_db()
    assert job.status == JobStatus.COMPLETED
    banded = labels(job)
    sure_right = [banded[i] == truth_of(Item.objects.get(pk=i).payload) for i in banded if sure[i]]
    (quality,) = ModelQuality.objects.filter(job=job)
    report = api.as_user(requester).get(f"/api/v1/jobs/{job.pk}/models/").json()
    Prediction.objects.filter(job=job).update(score=None)
    job_aggregate(job_id=job.pk)

    assert sum(sure_right) >= 0.95 * len(sure_right)  # the person's mistakes are overruled where the model is sure
    assert right(job) + 10 <= sum(label == truth_of(Item.objects.get(pk=i).payload) for i, label in banded.items())
    assert quality.model == "resnet-v3" and quality.predictions == len(banded) + 30  # every band, gold included
    assert [row["model"] for row in report] == ["resnet-v3"]
