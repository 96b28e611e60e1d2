"""Prepared queries give what the querysets they are built from give, with fresh values on every call."""

from datetime import timedelta

import pytest
from django.db.models import DateTimeField, F, IntegerField
from django.forms.models import model_to_dict
from django.utils import timezone

from marketplace.errors import NotEligible
from marketplace.models import Answer, Assignment, Block, Item, Job, JobStatus, Participation
from marketplace.prepared import Param, PreparedQuery, PreparedUpdate, attnames, insert, insert_statement
from marketplace.selectors import eligible_job_get, eligible_jobs
from marketplace.services.eligibility import ensure_can_work
from tests.factories import JobFactory, RequesterFactory, WorkerFactory
from tests.marketplace.helpers import launched_job

pytestmark = pytest.mark.django_db

ITEMS_OF_JOB = PreparedQuery(
    lambda: Item.objects.filter(job_id=Param("job", IntegerField())).order_by("id").values_list("id", "payload")
)


def test_rows_match_the_queryset_with_json_decoded_for_each_call_s_values():
    first, second = (launched_job(RequesterFactory(), n_items=n) for n in (3, 2))

    for job in (first, second, first):
        assert ITEMS_OF_JOB.rows(job=job.pk) == list(
            Item.objects.filter(job=job).order_by("id").values_list("id", "payload")
        )
    assert isinstance(ITEMS_OF_JOB.rows(job=first.pk)[0][1], dict)


def test_the_sql_is_compiled_once_and_keeps_its_placeholders():
    first, second = (launched_job(RequesterFactory(), n_items=1) for _ in range(2))
    ITEMS_OF_JOB.rows(job=first.pk)
    sql = ITEMS_OF_JOB.sql()

    ITEMS_OF_JOB.rows(job=second.pk)

    assert ITEMS_OF_JOB.sql() is sql
    assert "%s" in sql


def test_a_missing_value_is_a_type_error_naming_the_parameter():
    with pytest.raises(TypeError, match="'job'"):
        ITEMS_OF_JOB.rows()


def test_datetime_parameters_are_converted_by_their_field():
    query = PreparedQuery(
        lambda: Job.objects.filter(created_at__lt=Param("before", DateTimeField())).order_by().values_list("id")
    )
    job = JobFactory()

    assert query.rows(before=timezone.now() + timedelta(minutes=1)) == [(job.pk,)]
    assert query.rows(before=timezone.now() - timedelta(minutes=1)) == []


def test_instances_equal_those_the_orm_loads_with_their_related_objects():
    job = JobFactory()
    query = PreparedQuery(
        lambda: Job.objects.filter(pk=Param("job", IntegerField())).values_list(*attnames(Job, related=("requester",)))
    )

    [loaded] = query.instances(Job, related=("requester",), job=job.pk)

    assert model_to_dict(loaded) == model_to_dict(Job.objects.get(pk=job.pk))
    assert model_to_dict(loaded.requester) == model_to_dict(job.requester)
    assert "requester" in loaded._state.fields_cache  # no query on access, as with select_related
    assert not loaded._state.adding


def test_the_prepared_eligibility_guard_agrees_with_the_listing_rule_and_the_refusal_reasons():
    worker = WorkerFactory()
    open_job = launched_job(RequesterFactory(), n_items=1)
    own_job = launched_job(worker, n_items=1)
    paused = launched_job(RequesterFactory(), n_items=1)
    Job.objects.filter(pk=paused.pk).update(status=JobStatus.PAUSED)
    past_deadline = launched_job(RequesterFactory(), n_items=1)
    Job.objects.filter(pk=past_deadline.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    blocked_here = launched_job(RequesterFactory(), n_items=1)
    Participation.objects.create(job=blocked_here, worker=worker, blocked_at=timezone.now())
    wary = RequesterFactory()  # blocked the worker from all their jobs
    blocked_by_requester = launched_job(wary, n_items=1)
    Block.objects.create(worker=worker, requester=wary, source="requester", reason="no", created_by=wary)
    forgiving = RequesterFactory()  # did too, then lifted it
    lifted = launched_job(forgiving, n_items=1)
    Block.objects.create(
        worker=worker, requester=forgiving, source="requester", reason="no", lifted_at=timezone.now(), lift_reason="ok"
    )
    wary_later_job = launched_job(wary, n_items=1)  # posted after the block: kept from it too
    unrelated = RequesterFactory()  # blocked someone else: no matter to this worker
    Block.objects.create(worker=WorkerFactory(), requester=unrelated, source="staff", reason="x")
    unrelated_job = launched_job(unrelated, n_items=1)
    refused = {
        own_job: "own_job",
        paused: "job_not_active",
        past_deadline: "deadline_passed",
        blocked_here: "blocked",
        blocked_by_requester: "blocked",
        wary_later_job: "blocked",
    }
    jobs = [open_job, lifted, unrelated_job, *refused]

    listed = set(eligible_jobs(worker=worker).values_list("pk", flat=True))
    guarded = {job.pk for job in jobs if eligible_job_get(worker=worker, job_id=job.pk)}
    reasons = {}
    for job in refused:
        with pytest.raises(NotEligible) as refusal:
            ensure_can_work(job_id=job.pk, worker=worker)
        reasons[job] = refusal.value.extra["reason"]

    assert listed == guarded == {open_job.pk, lifted.pk, unrelated_job.pk}
    assert reasons == refused


def test_prepared_update_counts_changed_rows_and_applies_expressions():
    job, worker = JobFactory(), WorkerFactory()
    Participation.objects.create(job=job, worker=worker, open_assignments=1)
    take = PreparedUpdate(
        lambda: (
            Participation.objects.filter(job_id=Param("job", IntegerField()), open_assignments__lt=2),
            {"open_assignments": F("open_assignments") + Param("by", IntegerField())},
        )
    )

    assert take.run(job=job.pk, by=1) == 1
    assert take.run(job=job.pk, by=1) == 0  # now at 2: the filter no longer matches
    assert Participation.objects.get(job=job, worker=worker).open_assignments == 2


def test_insert_stores_what_bulk_create_stores_and_sets_primary_keys():
    job = launched_job(RequesterFactory(), n_items=2)
    worker, other = WorkerFactory.create_batch(2)
    task = job.tasks.first()
    expires = timezone.now() + timedelta(hours=1)
    fields = {"job": job, "task": task, "item_ids": [1, 2], "expires_at": expires}

    ours = insert([Assignment(worker=worker, **fields)])[0]
    django = Assignment.objects.bulk_create([Assignment(worker=other, **fields)])[0]

    stored = Assignment.objects.get(pk=ours.pk)
    assert ours.pk is not None and ours.pk != django.pk
    ignore = {"id", "worker", "created_at"}
    assert {k: v for k, v in model_to_dict(stored).items() if k not in ignore} == {
        k: v for k, v in model_to_dict(Assignment.objects.get(pk=django.pk)).items() if k not in ignore
    }
    assert stored.created_at == ours.created_at


VALUES, GRADES = ["cat", {"box": [1, 2]}, [3]], [None, True, False]


@pytest.fixture
def answers():
    """`answers(n)`: n unsaved answers to the items of one assignment, of several value shapes, gold and not."""
    job = launched_job(RequesterFactory(), n_items=3, items_per_task=3)
    worker = WorkerFactory()
    task, expires = job.tasks.get(), timezone.now()
    assignment = insert([Assignment(job=job, task=task, worker=worker, item_ids=[], expires_at=expires)])[0]
    items = list(job.items.order_by("id"))

    def make(n: int) -> list[Answer]:
        return [
            Answer(
                assignment=assignment, item=item, worker=worker, job=job, value=v, is_gold=g is not None, is_correct=g
            )
            for item, v, g in zip(items[:n], VALUES, GRADES, strict=False)
        ]

    make.items = items  # type: ignore[attr-defined]
    return make


def test_several_rows_insert_as_bulk_create_does_with_one_statement(answers, django_assert_num_queries):
    with django_assert_num_queries(1):
        stored = insert(answers(3))

    assert [a.pk for a in stored] == list(Answer.objects.order_by("pk").values_list("pk", flat=True))
    assert list(Answer.objects.order_by("pk").values_list("item_id", "value", "is_gold", "is_correct")) == [
        (item.pk, v, g is not None, g) for item, v, g in zip(answers.items, VALUES, GRADES, strict=True)
    ]


@pytest.mark.postgresql_only("UNNEST of arrays, as Django's PostgreSQL bulk_create")
def test_on_postgresql_one_statement_text_inserts_any_number_of_rows(answers):
    assert insert_statement(answers(2))[0] == insert_statement(answers(3))[0]
