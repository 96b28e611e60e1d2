"""A whole marketplace, played through the HTTP API: a requester posts a job from the bluebirds data set, a crowd
of simulated workers qualifies and works it, the job is aggregated, reviewed (with one disputed rejection) and paid.

Every user calls through `marketplace.client.Client` (one each, made by `Network`), i.e. through URL routing,
authentication and serializers. What HTTP cannot do
is asked of `Hooks`, which the management command implements: granting staff (done in the admin only), moving one
assignment's deadline into the past (the clock), and reading the whole ledger (no user may see it all).
"""

import io
import itertools
import random
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from marketplace.client import ApiError, Client
from marketplace.demo.birds import VARIANTS, picture_name, species_picture
from marketplace.demo.crowd import CLASSES, Dataset, SimWorker, build_crowd, split_images
from marketplace.demo.network import Network
from marketplace.demo.rating import run_rating_job
from marketplace.demo.report import Check, Report, Review

PASSWORD = "crowdmarket-sim-pw"  # noqa: S105 -- simulated users of a demo
SLOW_AWAY_ROUNDS = 2
TRUSTED = 0.8  # estimated accuracy of the workers whose odd assignment the requester rejects


class Bar(Protocol):
    total: float | None

    def update(self, n: float = 1) -> bool | None: ...
    def refresh(self) -> None: ...
    def close(self) -> None: ...


class Hooks(Protocol):
    def make_staff(self, *, email: str, password: str) -> None: ...
    def move_deadline_past(self, *, assignment_id: int) -> None: ...
    def ledger_totals(self) -> dict[str, int] | None: ...


@dataclass(frozen=True)
class Options:
    seed: int = 1
    items: int | None = None  # real items to post; default: every image not held out as gold or test question
    workers: int = 39  # dataset workers
    spammers: int = 4
    swappers: int = 1
    overlap: int = 5
    items_per_task: int = 4
    # Gold: the crowd is large for the job (44 workers, 70 items, overlap 5: about four assignments each), so the
    # job holds more gold than usual to judge anyone: 32 gold images, four gold items beside the four real ones of
    # every assignment (half the workers' time), a judgement from 8 gold answers on, and a threshold between what
    # an answerer who does not look scores on two classes (0.5) and what the crowd's good workers do (0.7 to 0.9).
    # With one gold item per assignment a spammer had answered 4 to 8 before the job ran out: too few for anyone
    # to be sure.
    gold: int = 32
    gold_ratio: str = "0.5"
    min_gold: int = 8  # gold answers before a worker may be blocked (job default: 5)
    threshold: float = 0.65  # the job's gold_block_threshold (its default: 0.6)
    questions: int = 6
    reward_cents: int = 20
    wait_for_expiry: bool = False  # let the slow worker's assignment expire for real (>= 60 s) instead


@dataclass
class Simulation:
    network: Network
    dataset: Dataset
    options: Options
    hooks: Hooks
    progress: Callable[[str, int], Bar]
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def __post_init__(self) -> None:
        self.rng = random.Random(self.options.seed)  # noqa: S311 -- a simulation, not security
        self.split = split_images(
            self.dataset,
            questions=self.options.questions,
            gold=self.options.gold,
            items=self.options.items,
            rng=self.rng,
        )
        self.crowd = build_crowd(
            self.dataset,
            n_dataset=self.options.workers,
            n_spammers=self.options.spammers,
            n_swappers=self.options.swappers,
            seed=self.options.seed,
        )
        self.apis: dict[str, Client] = {}
        self.report = Report(seed=self.options.seed, crowd=self.crowd, items=self.split.items, dataset=self.dataset)

    def run(self) -> Report:
        started = time.perf_counter()
        self.requester = self.network.client("10.0.0.1")
        self.requester.signup(self._email("requester"), PASSWORD, is_requester=True)
        self._deposit(self._estimated_cost(), "initial")
        self.qualification_id = self._define_qualification()
        self.job_id = self._post_job()
        self._upload()
        self._launch()
        self._recruit()
        self._work()
        self._aggregate()
        self._review()
        self._dispute()
        self.report.rating = run_rating_job(
            self.network,
            email=self._email,
            password=PASSWORD,
            seed=self.options.seed,
            reward_cents=self.options.reward_cents,
            aggregate=_aggregate_now,
        )
        self._payouts()
        self._collect()
        self.report.seconds = time.perf_counter() - started
        self.report.requests = self.network.requests
        self.report.users = (
            f"{self._email('requester')}, {self._email('admin')}, {self._email('<worker>')}: password {PASSWORD}"
        )
        return self.report

    def _email(self, name: str) -> str:
        return f"sim-{self.run_id}-{name}@demo.local"

    # --- The requester ------------------------------------------------------------------------------------------

    def _estimated_cost(self) -> int:
        tasks = -(-len(self.split.items) // self.options.items_per_task)
        # Rewards only: the platform's fee is not published, and the launch names the shortfall.
        return tasks * self.options.overlap * self.options.reward_cents

    def _deposit(self, amount: int, why: str) -> None:
        key = f"sim-{self.run_id}-deposit-{why}"
        self.requester.deposit(amount, "USD", idempotency_key=key)
        # A retry with the same key moves no money twice: the demo shows it.
        self.requester.deposit(amount, "USD", idempotency_key=key)
        self.report.deposits.append(amount)

    def _define_qualification(self) -> int:
        questions = [{"payload": {"image_id": i}, "answer": self.dataset.truth[i]} for i in self.split.questions]
        test = self.requester.create_qualification(
            name=f"Bluebirds screening ({self.run_id})",
            description="Tell the two species apart on a few known photos.",
            label_schema={"type": "single_choice", "classes": list(CLASSES)},
            pass_mark="0.5",
            questions_per_attempt=len(questions),  # the whole pool: grading does not depend on the draw
            time_limit_seconds=600,
            max_attempts=1,
            questions=questions,
        )
        return int(test["id"])

    def _post_job(self) -> int:
        job = self.requester.create_job(
            title=f"Bluebirds: which species is this? ({self.run_id})",
            instructions="Look at the bird photo: species 0 (Indigo Bunting) or species 1 (Blue Grosbeak)?",
            label_schema={"type": "single_choice", "classes": list(CLASSES)},
            item_schema={"fields": [{"name": "image_id", "type": "string"}, {"name": "photo", "type": "image"}]},
            overlap_min=self.options.overlap,
            overlap_max=self.options.overlap,
            items_per_task=self.options.items_per_task,
            reward_cents=self.options.reward_cents,
            gold_ratio=self.options.gold_ratio,
            assignment_duration_seconds=60,  # the API's minimum, for the slow worker
            required_qualifications=[{"qualification": self.qualification_id, "min_score": 0.5}],
            min_gold=self.options.min_gold,
            gold_block_threshold=self.options.threshold,
        )
        self.report.job = job
        return int(job["id"])

    def _upload(self) -> None:
        # The pictures first, in one zip (marketplace.demo.birds draws them): each item shows its own species.
        pictures = {picture_name(c, v): species_picture(c, v) for c in CLASSES for v in range(VARIANTS)}
        packed = io.BytesIO()
        with zipfile.ZipFile(packed, "w") as archive:
            for name, data in pictures.items():
                archive.writestr(name, data)
        self.requester.upload_media(self.job_id, [_named(packed, "birds.zip")])

        def photo(i: str) -> str:
            return picture_name(self.dataset.truth[i], int(i) % VARIANTS)

        items = "external_id,image_id,photo\n" + "".join(f"{i},{i},{photo(i)}\n" for i in self.split.items)
        gold = "external_id,image_id,photo,gold_label\n" + "".join(
            f"{i},{i},{photo(i)},{self.dataset.truth[i]}\n" for i in self.split.gold
        )
        for kind, text in (("items", items), ("gold", gold)):
            upload = self.requester.upload(self.job_id, text.encode(), kind=kind, name=f"bluebirds-{kind}.csv")
            self.report.uploads[kind] = upload["items_created"]

    def _launch(self) -> None:
        try:
            self.requester.launch(self.job_id)
        except ApiError as refused:
            if refused.code != "insufficient_funds":
                raise
            self._deposit(int(refused.extra["shortfall"]), "top-up")  # the launch says how much is missing
            self.requester.launch(self.job_id)
        self.report.tasks = self.requester.progress(self.job_id)["tasks_total"]

    # --- The crowd signs up and takes the test ------------------------------------------------------------------

    def _recruit(self) -> None:
        bar = self.progress("sign-up and test", len(self.crowd))
        for n, worker in enumerate(self.crowd):
            api = self.network.client(f"10.1.{n // 250}.{n % 250 + 1}")
            worker.user_id = api.signup(self._email(worker.name), PASSWORD, is_worker=True)["id"]
            self.apis[worker.name] = api
            self._take_test(worker, api)
            bar.update()
        bar.close()

    def _take_test(self, worker: SimWorker, api: Client) -> None:
        attempt = api.start_test(self.qualification_id)
        answers = {q["position"]: worker.answer(q["payload"]["image_id"]) for q in attempt["questions"]}
        graded = api.submit_test(attempt["id"], answers)
        worker.qualified, worker.test_score = bool(graded["passed"]), graded["score"]

    # --- Work -----------------------------------------------------------------------------------------------------

    def _work(self) -> None:
        """Rounds in a seeded random order, each worker claiming and submitting one assignment, until a round gets
        no work done. The slow worker claims once and wanders off; after SLOW_AWAY_ROUNDS rounds its assignment is
        overdue, it comes back, is refused, and works on like the others."""
        self.bar = self.progress("work (assignments)", self.report.tasks * self.options.overlap)
        self.slow = next(w for w in self.crowd if w.kind == "slow")
        self.slow_assignment: dict[str, Any] | None = None
        for rounds in itertools.count(1):
            worked = self._round()
            if self.slow_assignment is not None and (rounds >= SLOW_AWAY_ROUNDS or not worked):
                self._expire_slow()
            elif not worked and not self._fund_waiting_slots():
                break
        self.bar.close()

    def _fund_waiting_slots(self) -> bool:
        """Replacement slots for a blocked worker's work that the escrow could not cover wait for the requester's
        money: progress says how much (as the `job.funds_needed` webhook would); a deposit opens them."""
        progress = self.requester.progress(self.job_id)
        if not progress["slots_waiting_for_funds"]:
            return False
        # Nothing needed means the money is there already (beat's sweep would open them): a cent's deposit does now.
        self._deposit(max(1, progress["deposit_needed_cents"]), f"slots-{len(self.report.deposits)}")
        return True

    def _round(self) -> bool:
        working = [w for w in self.crowd if w.qualified and not w.blocked]
        did_work = False
        for worker in self.rng.sample(working, len(working)):
            for _ in range(worker.pace):
                if worker is self.slow and self.slow_assignment is not None:
                    break  # away
                assignment = self._claim(worker)
                if assignment is None:
                    break
                if worker is self.slow and not self.slow.expired:
                    self.slow_assignment = assignment
                    break
                self._submit(worker, assignment)
                did_work = True
        return did_work

    def _claim(self, worker: SimWorker) -> dict[str, Any] | None:
        try:
            return self.apis[worker.name].claim(self.job_id)
        except ApiError as refused:
            if refused.code == "not_eligible" and refused.extra.get("reason") == "blocked":
                worker.blocked = True
                return None
            if refused.code in ("no_work_available", "not_eligible"):  # nothing left for them, or job completed
                return None
            raise

    def _submit(self, worker: SimWorker, assignment: dict[str, Any]) -> None:
        given = {item["position"]: worker.answer(item["payload"]["image_id"]) for item in assignment["items"]}
        self.apis[worker.name].submit(assignment["id"], given)
        worker.answered.update({item["payload"]["image_id"]: given[item["position"]] for item in assignment["items"]})
        self.bar.update()
        if self.bar.total is not None and self.bar.n >= self.bar.total:  # type: ignore[attr-defined]
            self.bar.total += 1  # replacement slots for blocked workers' work
            self.bar.refresh()

    def _expire_slow(self) -> None:
        """The slow worker comes back after the deadline and submits: the API expires the assignment and refuses
        the answers (409). The deadline is either waited for, or moved into the past (the only write not done
        through the API: there is no clock to move over HTTP)."""
        assert self.slow_assignment is not None
        assignment_id = self.slow_assignment["id"]
        if self.options.wait_for_expiry:
            time.sleep(max(0.0, _seconds_until(self.slow_assignment["expires_at"])) + 1)
        else:
            self.hooks.move_deadline_past(assignment_id=assignment_id)
        api = self.apis[self.slow.name]
        try:
            self._submit(self.slow, self.slow_assignment)
            self.report.slow_outcome = "submitted in time (unexpected)"
        except ApiError as refused:
            state = api.assignment(assignment_id)["status"]
            self.report.slow_outcome = f"late submit refused: {refused.status} {refused.code}; assignment {state}"
            self.report.slow_expired = refused.code == "assignment_closed" and state == "expired"
            self.slow.expired += 1
        self.slow_assignment = None

    # --- Aggregation, reviews, disputes, payouts ----------------------------------------------------------------

    def _aggregate(self) -> None:
        self.report.aggregate = _aggregate_now(self.requester, self.job_id)

    def _review(self) -> None:
        """Approve every pending assignment but one: among the workers the aggregation rates well, the assignment
        that agrees least with the aggregated labels is rejected, with a reason."""
        pending = list(self.requester.assignments(self.job_id, status="submitted", review_status="pending"))
        if not pending:
            return
        rated = {p["worker"]: p["estimated_accuracy"] or 0.0 for p in self.requester.job_workers(self.job_id)}
        checks = self._checks(pending)
        trusted = [a for a in pending if rated.get(a["worker"], 0.0) >= TRUSTED] or pending
        target = min(trusted, key=lambda a: (checks[a["id"]].agreement, a["id"]))
        reason = "Too many answers disagree with the consensus."
        approve = [a["id"] for a in pending if a is not target]
        done = self.requester.review(self.job_id, approve=approve, reject={target["id"]: reason})
        self.report.review = Review(
            approved=len(done["approved"]),
            rejected=len(done["rejected"]),
            refused=done["refused"],
            rejected_id=target["id"],
            rejected_worker=self._by_user(target["worker"]),
            check=checks[target["id"]],
            auto_rejected=sum(1 for _ in self.requester.assignments(self.job_id, review_status="rejected")) - 1,
        )

    def _checks(self, assignments: list[dict[str, Any]]) -> dict[int, Check]:
        """Per assignment, how its worker's answers on the task's real items compare with the aggregated labels
        (what the requester sees through the items, results and raw-answers export) and, for the report only,
        with the truth."""
        task_of = {i["id"]: i["task"] for i in self.requester.items(self.job_id, is_gold="false")}
        labels = {r["id"]: r["label"] for r in self.requester.result_list(self.job_id)}
        export = self.requester.results(self.job_id, answers=True)
        return Check.per_assignment(assignments, task_of, labels, export, self.dataset)

    def _dispute(self) -> None:
        """The rejected worker appeals. The API checks the appeal against the other workers' answers at once; one
        they do not back waits for an admin, who overturns it (the worker passed the gold checks)."""
        review = self.report.review
        if review is None:
            self.report.dispute = "nothing to dispute: no work was left to review"
            return
        worker_api = self.apis[review.rejected_worker.name]
        message = "I looked at each photo carefully; please check my answers again."
        appeal = worker_api.appeal(review.rejected_id, message)
        story = f"{review.rejected_worker.name} appealed the rejection of assignment {review.rejected_id}"
        if appeal["status"] == "resolved":
            self.report.dispute = f"{story}; overturned automatically ({appeal['resolution_note']})"
            self.report.dispute_decision = {"decision": appeal["decision"], "by": "automatic"}
            return
        admin = self._admin()
        queued = admin.dispute(appeal["id"])
        note = "The worker's gold record is good; these photos are hard ones."
        try:
            resolved = admin.resolve_dispute(appeal["id"], "overturn", note)
        except ApiError as refused:  # e.g. 409 insufficient_funds: the escrow cannot pay; the appeal stays open
            self.report.dispute = f"{story}; the admin's overturn was refused: {refused.status} {refused.code}"
            return
        after = next(worker_api.my_disputes(kind="appeal"))
        self.report.dispute_decision = {"decision": after["decision"], "by": "admin", "status": after["status"]}
        self.report.dispute = (
            f"{story}; waited for an admin ({queued['pending_reason']}); admin decided {resolved['decision']}; "
            f"the worker sees it {after['status']}, {after['decision']}"
        )

    def _admin(self) -> Client:
        email = self._email("admin")
        self.hooks.make_staff(email=email, password=PASSWORD)
        admin = self.network.client("10.0.0.2")
        admin.login(email, PASSWORD)
        return admin

    def _payouts(self) -> None:
        for worker in self.crowd:
            api = self.apis[worker.name]
            payable = sum(b["payable"] for b in api.balances() if b["currency"] == "USD")
            if not payable:
                continue
            key = f"sim-{self.run_id}-payout-{worker.name}"
            try:
                requested = api.request_payout(idempotency_key=key)  # everything payable
            except ApiError as refused:
                if refused.code != "payout_too_small":
                    raise
                self.report.payouts_too_small.append((worker.name, payable))
                continue
            payout = api.payout(requested["id"])
            self.report.payouts.append((worker.name, payout["amount"], payout["status"]))

    def _collect(self) -> None:
        self.report.job = self.requester.job(self.job_id)
        self.report.progress = self.requester.progress(self.job_id)
        self.report.results = list(self.requester.result_list(self.job_id))
        self.report.export = list(self.requester.results(self.job_id, answers=True))
        self.report.workers = list(self.requester.job_workers(self.job_id))
        self.report.agreement = self.requester.agreement(self.job_id)
        self.report.balances = self.requester.balances()
        self.report.transactions = list(self.requester.transactions())
        self.report.ledger = self.hooks.ledger_totals()

    def _by_user(self, user_id: int) -> SimWorker:
        return next(w for w in self.crowd if w.user_id == user_id)


def _aggregate_now(requester: Client, job_id: int) -> dict[str, Any]:
    """Ask for the job's aggregation and wait for it (a Celery task: eager in process, a worker's with a server)."""
    before = _last_aggregation(requester, job_id).get("computed_at")
    requester.aggregate(job_id)
    deadline = time.monotonic() + 120
    while (state := _last_aggregation(requester, job_id)).get("computed_at") == before:
        if time.monotonic() > deadline:
            raise RuntimeError("The aggregation did not run within 2 minutes: is a Celery worker running?")
        time.sleep(0.5)
    return state


def _last_aggregation(requester: Client, job_id: int) -> dict[str, Any]:
    """The job's last aggregation; none yet (404): {}."""
    try:
        return requester.aggregation(job_id)
    except ApiError as refused:
        if refused.status != 404:
            raise
        return {}


def _named(content: io.BytesIO, name: str) -> io.BytesIO:
    content.seek(0)
    content.name = name
    return content


def _seconds_until(iso: str) -> float:
    return (datetime.fromisoformat(iso.replace("Z", "+00:00")) - datetime.now(UTC)).total_seconds()
