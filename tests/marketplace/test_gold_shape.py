"""Hidden gold cannot be spotted: every assignment of a job holds the same number of gold items, the worker API
publishes the assignment's size only, gold payloads carry the items' fields, and a worker out of gold gets no
assignment with less of it."""

import random
from collections import Counter
from decimal import Decimal

import pytest
from scipy import stats

from marketplace.errors import JobNotLaunchable, NoWorkAvailable
from marketplace.models import Item, Job
from marketplace.services.assignments import assignment_claim, assignment_submit
from marketplace.services.jobs import job_transition
from marketplace.services.uploads import upload_receive
from tests.factories import JobFactory, WorkerFactory
from tests.marketplace.helpers import answers_for, csv_file, fund, launched_job
from tests.marketplace.test_query_counts import queries

pytestmark = pytest.mark.django_db

CLASSES = ("cat", "dog")


def _photos(n: int, rng: random.Random) -> list[str]:
    """Payload texts drawn alike for items and gold: nothing in them says which is which."""
    return [f"photo {rng.getrandbits(48):012x} " + "x" * rng.randint(0, 20) for _ in range(n)]


def _text_job(requester, *, n_items: int, n_gold: int, seed: int = 1, launch: bool = True, **fields) -> tuple:
    """A job of `text` items and gold, both drawn by `_photos`; returns (job, {text: true class})."""
    rng = random.Random(seed)
    job = JobFactory(
        requester=requester,
        label_schema={"type": "single_choice", "classes": list(CLASSES)},
        item_schema={"fields": [{"name": "text", "type": "string"}]},
        **fields,
    )
    texts, gold = _photos(n_items, rng), _photos(n_gold, rng)
    truth = {text: rng.choice(CLASSES) for text in texts} | {text: CLASSES[i % 2] for i, text in enumerate(gold)}
    upload_receive(job=job, user=requester, file=csv_file("text\n" + "".join(f"{t}\n" for t in texts)), kind="items")
    if gold:
        rows = "".join(f"{t},{truth[t]}\n" for t in gold)
        upload_receive(job=job, user=requester, file=csv_file("text,gold_label\n" + rows, "gold.csv"), kind="gold")
    if launch:
        fund(job)
        job = job_transition(job=job, action="launch")
    return job, truth


class TestTheAssignmentShape:
    @pytest.mark.parametrize(
        ("items_per_task", "ratio", "gold"),
        [(10, "0.1", 1), (4, "0.2", 1), (5, "0.25", 2), (4, "0.5", 4), (1, "0.05", 1), (3, "0", 0)],
    )
    def test_the_gold_per_assignment_is_fixed_by_the_jobs_ratio_rounded_and_at_least_one(
        self, items_per_task, ratio, gold
    ):
        job = Job(items_per_task=items_per_task, gold_ratio=Decimal(ratio))

        assert job.gold_per_assignment == gold
        assert job.items_per_assignment == items_per_task + gold

    def test_every_assignment_of_a_job_holds_the_same_number_of_gold_items(self, requester):
        # 5 items per task at a quarter gold: 5/3 gold on average, which used to be 1 or 2 drawn at random.
        job = launched_job(
            requester, n_items=60, n_gold=40, items_per_task=5, gold_ratio=Decimal("0.25"), max_open_assignments=20
        )
        gold_ids = set(Item.objects.filter(job=job, is_gold=True).values_list("id", flat=True))
        rng = random.Random(4)

        for _ in range(2):
            worker = WorkerFactory()
            for _ in range(12):
                assignment = assignment_claim(job_id=job.pk, worker=worker, rng=rng)
                assert len(assignment.item_ids) == 7
                assert len(gold_ids.intersection(assignment.item_ids)) == 2

    def test_the_worker_api_publishes_the_assignment_size_but_not_the_items_per_task_nor_the_gold_share(
        self, api, requester, worker
    ):
        job = launched_job(requester, n_items=10, n_gold=4, items_per_task=5, gold_ratio=Decimal("0.25"))

        listed = api.as_user(worker).get("/api/v1/work/jobs/").json()["results"]
        mine = next(j for j in listed if j["id"] == job.pk)
        claimed = api.as_user(worker).post(f"/api/v1/work/jobs/{job.pk}/claim/").json()

        assert mine["items_per_assignment"] == 7 == len(claimed["items"])
        assert "items_per_task" not in mine and not any("gold" in key for key in mine)
        owned = api.as_user(requester).get(f"/api/v1/jobs/{job.pk}/").json()
        assert (owned["gold_per_assignment"], owned["items_per_assignment"]) == (2, 7)

    def test_a_claim_with_gold_takes_the_same_number_of_queries_as_before(
        self, requester, worker, django_assert_num_queries
    ):
        job = launched_job(requester, n_items=20, n_gold=10, items_per_task=5, gold_ratio=Decimal("0.2"))
        assignment_claim(job_id=job.pk, worker=WorkerFactory())  # the worker's first claim takes other statements
        first = assignment_claim(job_id=job.pk, worker=worker)
        assignment_submit(assignment_id=first.pk, worker=worker, answers=answers_for(first))

        # The pinned count of a claim (see test_query_counts), gold draw and exposures included.
        with django_assert_num_queries(queries("claim")):
            assignment_claim(job_id=job.pk, worker=worker)


class TestRunningOutOfGold:
    def test_a_worker_who_has_seen_the_gold_is_refused_as_when_no_work_is_left(self, api, requester, worker):
        job = launched_job(
            requester, n_items=30, n_gold=5, items_per_task=2, gold_ratio=Decimal("0.5"), max_open_assignments=10
        )
        rng = random.Random(2)
        sizes = [len(assignment_claim(job_id=job.pk, worker=worker, rng=rng).item_ids) for _ in range(2)]

        refused = api.as_user(worker).post(f"/api/v1/work/jobs/{job.pk}/claim/")
        other = api.as_user(WorkerFactory()).post(f"/api/v1/work/jobs/{job.pk}/claim/")

        assert sizes == [4, 4]  # two gold each; the fifth gold item alone makes no assignment
        assert refused.status_code == 409 and refused.json()["code"] == "no_work_available"
        assert refused.json() == api.as_user(worker).post("/api/v1/work/jobs/999999/claim/").json() | {
            "code": "no_work_available",
            "message": refused.json()["message"],
            "extra": refused.json()["extra"],
            "request_id": refused.json()["request_id"],
        }
        assert other.status_code == 201 and len(other.json()["items"]) == 4
        assert job.assignments.filter(worker=worker).count() == 2  # the refused claim left nothing behind

    def test_the_requester_sees_how_many_workers_ran_out_of_gold_and_more_gold_lets_them_work_again(
        self, requester_api, requester, worker
    ):
        job = launched_job(
            requester, n_items=30, n_gold=4, items_per_task=2, gold_ratio=Decimal("0.5"), max_open_assignments=10
        )
        for _ in range(2):
            assignment_claim(job_id=job.pk, worker=worker)
        assignment_claim(job_id=job.pk, worker=WorkerFactory())  # has 2 gold items left: enough for one more
        with pytest.raises(NoWorkAvailable):
            assignment_claim(job_id=job.pk, worker=worker)

        before = requester_api.get(f"/api/v1/jobs/{job.pk}/progress/").json()["workers_out_of_gold"]
        more = "image_url,gold_label\n" + "".join(f"https://example.com/h{i}.jpg,dog\n" for i in range(2))
        upload_receive(job=job, user=requester, file=csv_file(more, "gold.csv"), kind="gold")
        after = requester_api.get(f"/api/v1/jobs/{job.pk}/progress/").json()["workers_out_of_gold"]

        assert (before, after) == (1, 0)
        assert len(assignment_claim(job_id=job.pk, worker=worker).item_ids) == 4

    def test_a_job_with_gold_cannot_launch_with_fewer_gold_items_than_an_assignment_holds(self, requester):
        job, _ = _text_job(requester, n_items=10, n_gold=1, launch=False, items_per_task=5, gold_ratio=Decimal("0.25"))
        fund(job)

        with pytest.raises(JobNotLaunchable) as refused:
            job_transition(job=job, action="launch")

        assert refused.value.extra["field"] == "gold_ratio"
        assert "2 gold items" in str(refused.value)
        job.refresh_from_db()
        assert job.status == "draft"


class TestGoldPayloads:
    def post(self, client, job, text, kind):
        name = "gold.csv" if kind == "gold" else "items.csv"
        return client.post(
            f"/api/v1/jobs/{job.pk}/uploads/", {"file": csv_file(text, name), "kind": kind}, format="multipart"
        )

    @pytest.mark.parametrize(
        ("gold", "field"),
        [
            ("text,lang,source,gold_label\nhello,en,curated,cat\n", "source"),  # a field the items lack
            ("text,gold_label\nhello,cat\n", "lang"),  # a field the items carry
        ],
    )
    def test_a_gold_upload_must_carry_exactly_the_fields_of_the_jobs_items(self, requester_api, requester, gold, field):
        job = JobFactory(
            requester=requester, item_schema={}, label_schema={"type": "single_choice", "classes": list(CLASSES)}
        )
        assert self.post(requester_api, job, "text,lang\nhi,en\nyo,fr\n", "items").status_code == 201

        response = self.post(requester_api, job, gold, "gold")

        assert response.status_code == 400, response.json()
        [error] = response.json()["extra"]["errors"]
        assert (error["row"], error["field"]) == (1, field)
        assert not Item.objects.filter(job=job, is_gold=True).exists()

    def test_gold_uploaded_first_fixes_the_fields_the_items_must_carry_in_the_same_order(
        self, requester_api, requester
    ):
        job = JobFactory(
            requester=requester, item_schema={}, label_schema={"type": "single_choice", "classes": list(CLASSES)}
        )
        assert self.post(requester_api, job, "lang,text,gold_label\nen,hello,cat\n", "gold").status_code == 201

        bad = self.post(requester_api, job, "text\nhi\n", "items")
        good = self.post(requester_api, job, "text,lang\nhi,en\n", "items")

        assert bad.status_code == 400 and bad.json()["extra"]["errors"][0]["field"] == "lang"
        assert good.status_code == 201
        payloads = [list(p) for p in Item.objects.filter(job=job).order_by("id").values_list("payload", flat=True)]
        assert payloads[0] == payloads[1]  # the same keys in the same order, whatever the file's column order


@pytest.mark.django_db(transaction=True)
def test_a_worker_who_answers_with_care_only_when_a_claim_looks_bigger_is_blocked_as_fast_as_a_spammer(api, requester):
    """The attack from issue 16: claims with more items than the job publishes held gold, so a worker who answered
    those carefully and spammed the rest passed every gold item and was never blocked. Both workers here answer
    'cat' always, except that the strategic one answers right when a claim holds more items than published (or than
    the fewest it has seen); the gold is half cats, half dogs."""
    job, truth = _text_job(
        requester, n_items=300, n_gold=120, items_per_task=5, overlap_min=2, overlap_max=2, gold_ratio=Decimal("0.1")
    )
    Job.objects.filter(pk=job.pk).update(min_gold=4, gold_block_threshold=0.6)

    def claims_until_blocked(strategic: bool) -> tuple[int | None, int]:
        client = api.as_user(WorkerFactory())
        listed = next(j for j in client.get("/api/v1/work/jobs/").json()["results"] if j["id"] == job.pk)
        published = listed.get("items_per_assignment", listed.get("items_per_task"))
        fewest, careful = published, 0
        for n in range(1, 61):
            response = client.post(f"/api/v1/work/jobs/{job.pk}/claim/")
            if response.status_code == 403:
                return n - 1, careful
            assignment = response.json()
            items = assignment["items"]
            fewest = min(fewest, len(items))
            look = strategic and len(items) > fewest
            careful += look
            answers = [
                {"position": i["position"], "answer": truth[i["payload"]["text"]] if look else "cat"} for i in items
            ]
            client.post(f"/api/v1/work/assignments/{assignment['id']}/submit/", {"answers": answers}, format="json")
        return None, careful

    naive, _ = claims_until_blocked(strategic=False)
    strategic, careful = claims_until_blocked(strategic=True)

    # Both are blocked, and the strategic worker never found a claim that looked different: it answered exactly as
    # the spammer did, so the two are blocked alike (how many claims each takes varies with the gold each drew).
    assert naive is not None
    assert strategic is not None, f"never blocked in 60 claims; answered {careful} of them with care"
    assert careful == 0


def test_what_a_worker_sees_of_a_claim_is_independent_of_the_gold_it_holds(requester):
    """Many claims with a fixed seed: the shape a worker sees (item count, payload keys and sizes) tells nothing of
    how many items are gold, and gold sits at every position equally often. 5 items per task at a quarter gold (5/3
    gold items on average) used to give claims of 6 or 7 items, 7 meaning two gold; the job's last task is short."""
    job, _ = _text_job(
        requester, n_items=148, n_gold=80, items_per_task=5, overlap_min=20, overlap_max=20, max_open_assignments=30
    )
    job.gold_ratio = Decimal("0.25")
    Job.objects.filter(pk=job.pk).update(gold_ratio=job.gold_ratio)
    gold_ids = set(Item.objects.filter(job=job, is_gold=True).values_list("id", flat=True))
    rng = random.Random(11)
    shapes, gold_counts, sizes, placed = [], [], {}, []
    for _ in range(20):
        worker = WorkerFactory()
        for _ in range(30):
            assignment = assignment_claim(job_id=job.pk, worker=worker, rng=rng)
            payloads = assignment.payloads
            shapes.append((len(payloads), tuple(sorted({tuple(sorted(p)) for p in payloads}))))
            is_gold = [item_id in gold_ids for item_id in assignment.item_ids]
            gold_counts.append(sum(is_gold))
            placed.append(is_gold)
            sizes.update(zip(assignment.item_ids, (len(p["text"]) for p in payloads), strict=True))

    table = Counter(zip(shapes, gold_counts, strict=True))
    rows, columns = sorted(set(shapes)), sorted(set(gold_counts))
    assert len(rows) == 2  # full tasks and the short last one: their size says which task, not which gold
    if len(columns) > 1:  # a single gold count is independent of anything
        observed = [[table[(row, column)] for column in columns] for row in rows]
        assert stats.chi2_contingency(observed).pvalue > 0.01, observed
    full = max(len(is_gold) for is_gold in placed)
    positions = Counter(p for is_gold in placed if len(is_gold) == full for p, gold in enumerate(is_gold) if gold)
    assert stats.chisquare([positions[p] for p in range(full)]).pvalue > 0.01, positions
    # Each item's size once (repeats of an item are not independent draws): gold and real alike.
    gold_sizes = [size for item_id, size in sizes.items() if item_id in gold_ids]
    real_sizes = [size for item_id, size in sizes.items() if item_id not in gold_ids]
    assert stats.ks_2samp(gold_sizes, real_sizes).pvalue > 0.01
