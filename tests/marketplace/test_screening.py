"""Screening on gold and real answers together: a worker who passes gold but answers real items at random is
blocked once the aggregation has the evidence, through the Block path (record, reason, rejected work)."""

import random

import pytest

from marketplace.models import Assignment, Block, BlockSource, JobAggregate, Participation, ReviewStatus
from marketplace.services.screening import worker_screen
from tests.marketplace.test_aggregation import CLASSES, crowd_job, honest, run_crowd, truth_of

pytestmark = pytest.mark.django_db(transaction=True)


def gold_spotter(payload: dict, rng: random.Random) -> str:
    """Right on every gold item (as if gold could be told apart), at random on real ones."""
    return truth_of(payload) if "/g" in payload["image_url"] else rng.choice(CLASSES)


@pytest.fixture
def job(requester, settings):
    settings.AGGREGATE_EVERY_ANSWERS = 20
    return crowd_job(
        requester, n_items=30, n_gold=30, overlap_min=5, overlap_max=5, min_gold=4, gold_block_threshold=0.65
    )


def test_a_worker_who_passes_gold_but_guesses_real_items_is_blocked_by_the_aggregations_evidence(job):
    run_crowd(job, [honest] * 5 + [gold_spotter], seed=1)

    spotter = Participation.objects.filter(job=job).order_by("-worker_id").first()  # run_crowd makes them in turn
    block = Block.objects.get(job=job, worker_id=spotter.worker_id)
    assert spotter.blocked_at is not None
    assert spotter.gold_correct == spotter.gold_answered >= 4  # gold alone never said so
    assert block.source == BlockSource.QUALITY and "agreement with the other workers" in block.reason
    rejected = Assignment.objects.filter(job=job, worker_id=spotter.worker_id, review_status=ReviewStatus.REJECTED)
    assert rejected.exists()
    assert not Participation.objects.filter(job=job, blocked_at__isnull=False).exclude(pk=spotter.pk).exists()
    assert JobAggregate.objects.get(job=job).excluded_workers == 1  # aggregated again without their answers


def test_honest_workers_pass_the_screen_on_both_sources(job):
    run_crowd(job, [honest] * 6, seed=2)

    for participation in Participation.objects.filter(job=job):
        screen = worker_screen(job=job, worker_id=participation.worker_id)
        assert not screen.fails and screen.balanced_accuracy > 0.8
        assert sum(screen.answered) > participation.gold_answered  # real answers counted beside the gold
