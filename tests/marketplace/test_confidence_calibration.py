"""The items' confidence is calibrated against the job's gold once it has enough answered gold items
(`aggregation.gold_calibration`): each gold item judged by a fit that did not clamp it, the temperature that makes
those fits' confidence match how often they were right. Labels never move; the run records how it calibrated, and
the requester sees it. With too little gold, the confidence is Dawid-Skene's own."""

import pytest

from marketplace.aggregation.gold_calibration import MIN_GOLD
from marketplace.models import ItemResult, JobAggregate
from marketplace.services.aggregation import job_aggregate
from tests.marketplace.test_aggregation import crowd_job, run_crowd
from tests.marketplace.test_model_annotators import mediocre

pytestmark = pytest.mark.django_db


def results(job) -> dict[int, tuple[str, float]]:
    return {r.item_id: (r.label, r.confidence) for r in ItemResult.objects.filter(job=job)}


def test_a_job_with_enough_gold_gets_its_confidence_calibrated_and_its_labels_kept(requester, api, monkeypatch):
    job = crowd_job(requester, n_items=30, n_gold=30, overlap_min=3, overlap_max=3)
    run_crowd(job, [mediocre] * 5, seed=3)
    state = job_aggregate(job_id=job.pk)
    calibrated = results(job)
    served_calibrated = api.as_user(requester).get(f"/api/v1/jobs/{job.pk}/aggregation/").json()
    monkeypatch.setattr("marketplace.services.worker_model.MIN_GOLD", 10**6)  # the same run without calibration
    uncalibrated_state = job_aggregate(job_id=job.pk)
    own = results(job)
    served = api.as_user(requester).get(f"/api/v1/jobs/{job.pk}/aggregation/").json()

    assert state.calibration["gold"] >= MIN_GOLD and 0 < state.calibration["gold_right"] <= state.calibration["gold"]
    assert state.calibration["temperature"] >= state.calibration["answer_temperature"] >= 1.0
    assert {i: label for i, (label, _) in calibrated.items()} == {i: label for i, (label, _) in own.items()}
    assert all(calibrated[i][1] <= own[i][1] + 1e-6 for i in own)  # a temperature >= 1 only ever softens
    assert sum(own[i][1] - calibrated[i][1] for i in own) > 0.5  # and here, where 70% workers over-agree, it does
    assert served_calibrated["calibration"] == state.calibration
    assert uncalibrated_state.calibration is None and served["calibration"] is None


def test_too_little_gold_keeps_dawid_skenes_own_confidence(requester, api):
    job = crowd_job(requester, n_items=12, n_gold=9, overlap_min=3, overlap_max=3)
    run_crowd(job, [mediocre] * 5, seed=3)
    job_aggregate(job_id=job.pk)

    assert JobAggregate.objects.get(job=job).calibration is None
    assert api.as_user(requester).get(f"/api/v1/jobs/{job.pk}/aggregation/").json()["calibration"] is None
