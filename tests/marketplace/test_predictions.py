"""Models' predictions on items: sent in bulk, validated like answers, one per item and model version (a resend
replaces it); a job may show one model's predictions to workers as pre-labels, on every item, gold included."""

import pytest

from marketplace.errors import JobNotLaunchable
from marketplace.models import Item, Prediction
from marketplace.services.jobs import job_transition
from marketplace.services.predictions import predictions_put
from marketplace.services.uploads import upload_receive
from tests.factories import JobFactory, WorkerFactory
from tests.marketplace.helpers import csv_file, csv_rows, fund

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(requester):
    """A draft job of 4 items (img-1..img-4) in tasks of 2, one gold per assignment, 4 gold items."""
    job = JobFactory(requester=requester, items_per_task=2, gold_ratio="0.34", overlap_min=1, overlap_max=1)
    upload_receive(job=job, user=requester, file=csv_file(csv_rows(4)), kind="items")
    gold = "external_id,image_url,gold_label\n" + "".join(f"g{i},https://example.com/g{i}.jpg,cat\n" for i in range(4))
    upload_receive(job=job, user=requester, file=csv_file(gold, "gold.csv"), kind="gold")
    return job


def post(client, job, predictions):
    return client.post(f"/api/v1/jobs/{job.pk}/predictions/", {"predictions": predictions})


def test_predictions_are_stored_by_item_id_or_external_id_and_a_resend_replaces_them(requester_api, job):
    first = Item.objects.filter(job=job, external_id="img-1").get()

    sent = post(
        requester_api,
        job,
        [
            {"item": first.pk, "model": "resnet-v1", "answer": "cat", "score": 0.9},
            {"external_id": "img-2", "model": "resnet-v1", "answer": "dog", "score": None},
        ],
    )
    again = post(requester_api, job, [{"external_id": "img-1", "model": "resnet-v1", "answer": "bird", "score": 0.4}])

    assert (sent.status_code, sent.json()) == (201, {"stored": 2})
    assert again.status_code == 201
    stored = dict(Prediction.objects.filter(job=job).values_list("item__external_id", "answer"))
    assert stored == {"img-1": "bird", "img-2": "dog"}
    listed = requester_api.get(f"/api/v1/jobs/{job.pk}/predictions/?model=resnet-v1").json()["results"]
    assert len(listed) == 2


@pytest.mark.parametrize(
    ("prediction", "field"),
    [
        ({"external_id": "img-1", "model": "m", "answer": "giraffe"}, "answer"),
        ({"external_id": "img-1", "model": "m", "answer": "cat", "score": 1.5}, "score"),
        ({"external_id": "img-1", "model": "bad name!", "answer": "cat"}, "model"),
        ({"external_id": "nope", "model": "m", "answer": "cat"}, "external_id"),
        ({"item": 1, "external_id": "img-1", "model": "m", "answer": "cat"}, "item"),
        ({"external_id": "img-1", "model": "m"}, "answer"),
        ("cat", "prediction"),
    ],
    ids=[
        "answer-not-a-class",
        "score-above-1",
        "bad-model-name",
        "unknown-item",
        "two-references",
        "no-answer",
        "not-an-object",
    ],
)
def test_one_bad_prediction_is_a_400_naming_its_index_and_field_and_nothing_is_kept(
    requester_api, job, prediction, field
):
    good = {"external_id": "img-2", "model": "m", "answer": "cat"}

    response = post(requester_api, job, [good, prediction])

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_predictions"
    assert [(e["index"], e["field"]) for e in response.json()["extra"]["errors"]] == [(1, field)]
    assert not Prediction.objects.exists()


def test_nobody_but_the_requester_reads_or_sends_a_jobs_predictions(api, outsider_api, job):
    prediction = {"external_id": "img-1", "model": "m", "answer": "cat"}

    assert post(outsider_api, job, [prediction]).status_code == 404
    assert outsider_api.get(f"/api/v1/jobs/{job.pk}/predictions/").status_code == 404
    assert post(api.as_user(WorkerFactory()), job, [prediction]).status_code == 403
    assert not Prediction.objects.exists()


def test_a_job_showing_prelabels_launches_only_when_every_item_gold_included_has_one(requester, job):
    job.prelabel_model = "resnet-v1"
    job.save()
    fund(job)
    real = [{"external_id": f"img-{i}", "model": "resnet-v1", "answer": "cat"} for i in range(1, 5)]
    predictions_put(job=job, predictions=real)

    with pytest.raises(JobNotLaunchable, match="4 items have none"):
        job_transition(job=job, action="launch")
    predictions_put(
        job=job, predictions=[{"external_id": f"g{i}", "model": "resnet-v1", "answer": "dog"} for i in range(4)]
    )
    assert job_transition(job=job, action="launch").status == "active"


def test_workers_see_the_prelabel_on_every_item_gold_and_real_alike(api, requester, job):
    job.prelabel_model = "resnet-v1"
    job.save()
    everything = [
        {"item": pk, "model": "resnet-v1", "answer": "cat", "score": 0.8}
        for pk in job.items.values_list("id", flat=True)
    ]
    predictions_put(job=job, predictions=everything)
    predictions_put(job=job, predictions=[{"external_id": "g0", "model": "other", "answer": "dog"}])  # not shown
    fund(job)
    job_transition(job=job, action="launch")

    claimed = api.as_user(WorkerFactory()).post(f"/api/v1/work/jobs/{job.pk}/claim/").json()

    assert len(claimed["items"]) == 3  # two real, one gold
    assert [item["prelabel"] for item in claimed["items"]] == [{"answer": "cat", "score": 0.8}] * 3


def test_a_job_without_prelabels_shows_workers_no_prelabel_key(api, requester, job):
    predictions_put(job=job, predictions=[{"external_id": "img-1", "model": "m", "answer": "cat"}])
    fund(job)
    job_transition(job=job, action="launch")

    claimed = api.as_user(WorkerFactory()).post(f"/api/v1/work/jobs/{job.pk}/claim/").json()

    assert all("prelabel" not in item for item in claimed["items"])
