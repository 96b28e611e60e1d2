"""Reads. Every selector that serves a requester or a worker scopes its queryset to what that user may see."""

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files.storage import storages
from django.db.models import (
    Count,
    DateTimeField,
    DurationField,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from marketplace.accounts.models import User
from marketplace.aggregation.types.base import ExportRow
from marketplace.errors import NotFound
from marketplace.models import (
    FINISHED_STATUSES,
    Answer,
    Assignment,
    AssignmentStatus,
    Block,
    Dispute,
    DisputeStatus,
    GoldExposure,
    HiddenRequester,
    Item,
    Job,
    JobAggregate,
    JobQualification,
    JobStatus,
    MediaFile,
    MediaKind,
    MicroTask,
    Participation,
    Prediction,
    ReviewStatus,
    Upload,
    posterior_by_class,
)
from marketplace.prepared import Param, PreparedQuery, attnames, loaded
from marketplace.schemas import parse_item_schema, parse_label_schema
from payments.money import fee_split
from payments.selectors import account_escrow_get, balance_list
from qualification.selectors import live_grants
from workers.selectors import standing_bans, worker_reputation_expression


def job_list(*, requester: User) -> QuerySet[Job]:
    return Job.objects.filter(requester=requester).select_related("requester").prefetch_related("requirements")


def job_get(*, requester: User, job_id: int) -> Job:
    """The requester's own job; another requester's job is indistinguishable from a missing one (404)."""
    job = job_list(requester=requester).filter(pk=job_id).first()
    if job is None:
        raise NotFound("No such job.")
    return job


def upload_list(*, requester: User) -> QuerySet[Upload]:
    return Upload.objects.filter(job__requester=requester).select_related("job")


def upload_get(*, requester: User, upload_id: int) -> Upload:
    upload = upload_list(requester=requester).filter(pk=upload_id).first()
    if upload is None:
        raise NotFound("No such upload.")
    return upload


def item_list(*, job: Job) -> QuerySet[Item]:
    return Item.objects.filter(job=job).order_by("id")


def task_list(*, job: Job) -> QuerySet[MicroTask]:
    return MicroTask.objects.filter(job=job).order_by("number")


# --- Work: what a worker may see -------------------------------------------------------------------------------


def eligible_jobs(*, worker: User) -> QuerySet[Job]:
    """The one rule for who may work on what, used to list work and to guard every claim: an active job before its
    deadline, not the worker's own, that has not blocked the worker (on the job, or on every job of its requester);
    the worker not banned from the platform, holding every qualification the job requires (live: neither revoked
    nor expired, at the minimum score), and at least the job's minimum reputation. One query: every condition is a
    subquery. (`services.eligibility._reason` says which one failed; a test checks the two agree.)"""
    if not worker.is_worker:
        return Job.objects.none()
    return _open_to(worker.pk, timezone.now())


def _open_to(worker: int | Param, now: datetime | Param) -> QuerySet[Job]:
    """`eligible_jobs` for a worker (by id) at a time; either may be a `Param` of a prepared query."""
    blocked = Participation.objects.filter(job=OuterRef("pk"), worker=worker, blocked_at__isnull=False)
    # Blocked from every job of the requester: a probe of the partial unique index (worker, requester).
    blocked_by_requester = Block.objects.filter(
        worker=worker, requester=OuterRef("requester"), job__isnull=True, lifted_at__isnull=True
    )
    held = live_grants(worker=worker, now=now).filter(
        qualification=OuterRef("qualification"), score__gte=OuterRef("min_score")
    )
    unmet = JobQualification.objects.filter(job=OuterRef("pk")).exclude(Exists(held))
    return (
        Job.objects.filter(status=JobStatus.ACTIVE)
        .filter(Q(deadline__isnull=True) | Q(deadline__gt=now))
        .filter(Q(min_reputation__isnull=True) | Q(min_reputation__lte=worker_reputation_expression(worker=worker)))
        .exclude(requester=worker)
        .exclude(Exists(standing_bans().filter(worker=worker)))
        .exclude(Exists(blocked))
        .exclude(Exists(blocked_by_requester))
        .exclude(Exists(unmet))
    )


_ELIGIBLE_JOB = PreparedQuery(
    lambda: (
        _open_to(Param("worker", IntegerField()), Param("now", DateTimeField()))
        .filter(pk=Param("job", IntegerField()))
        .order_by()
        .values_list(*attnames(Job))[:1]
    )
)


def eligible_job_get(*, worker: User, job_id: int) -> Job | None:
    """`eligible_jobs(worker=worker).filter(pk=job_id).first()`, prepared once per process: the claim's guard."""
    if not worker.is_worker:
        return None
    found = _ELIGIBLE_JOB.instances(Job, worker=worker.pk, now=timezone.now(), job=job_id)
    return found[0] if found else None


def eligible_job_statement(*, worker: User, job_id: int) -> tuple[str, list[Any]]:
    """`eligible_job_get`'s query as SQL and parameters, for a claim that runs it inside its own statement: its
    columns, the job's `attnames`, come first in each row, for `eligible_job_from_row`. For a worker only
    (`worker.is_worker`): the rule's SQL leaves that check to `eligible_job_get`."""
    return _ELIGIBLE_JOB.statement(worker=worker.pk, now=timezone.now(), job=job_id)


def eligible_job_from_row(row: tuple[Any, ...]) -> Job:
    """The job from a row that starts with the columns of `eligible_job_statement`."""
    return loaded(Job, _ELIGIBLE_JOB.converted([row[:_JOB_COLUMNS]]))[0]


_JOB_COLUMNS = len(attnames(Job))


def work_job_list(*, worker: User) -> QuerySet[Job]:
    """Eligible jobs with `assignments_available` (free slots left over all their tasks), their requester and the
    requester's standing, except the requesters the worker hid."""
    free = (
        MicroTask.objects.filter(job=OuterRef("pk"), assigned_count__lt=F("overlap_target"))
        .values("job")
        .annotate(free=Sum(F("overlap_target") - F("assigned_count")))
        .values("free")
    )
    hidden = HiddenRequester.objects.filter(worker=worker, requester=OuterRef("requester"))
    return (
        eligible_jobs(worker=worker)
        .exclude(Exists(hidden))
        .select_related("requester", "requester__standing")
        .annotate(assignments_available=Coalesce(Subquery(free, output_field=IntegerField()), 0))
    )


class _Times(Func):
    """A number times a duration, as a duration, on either database: PostgreSQL multiplies an interval, SQLite the
    microseconds it stores a duration as. (Django's own `*` of a duration refuses an integer column on SQLite.)"""

    arg_joiner = " * "
    template = "(%(expressions)s)"
    output_field = DurationField()

    def __init__(self, number: F, duration: timedelta) -> None:
        super().__init__(number, Value(duration, output_field=DurationField()))


def work_job_search(
    *,
    worker: User,
    text: str = "",
    min_reward_cents: int | None = None,
    min_hourly_cents: int | None = None,
    answer_type: str = "",
    max_rejected_share: float | None = None,
    language: str = "",
) -> QuerySet[Job]:
    """`work_job_list` narrowed as a worker searches: title or instructions containing `text`; at least
    `min_reward_cents` per task; at least `min_hourly_cents` per hour at the floor (the reward over the time allotted:
    what a worker who takes all of it earns); a label schema of `answer_type`; requesters who rejected at most
    `max_rejected_share` of the work they reviewed (requesters with no reviews yet are left out: nothing vouches for
    them); jobs in `language` and jobs that need none in particular. The requester loaded, best paid first."""
    jobs = work_job_list(worker=worker).select_related("requester")
    if text:
        jobs = jobs.filter(Q(title__icontains=text) | Q(instructions__icontains=text))
    if min_reward_cents is not None:
        jobs = jobs.filter(reward_cents__gte=min_reward_cents)
    if min_hourly_cents:  # 0 asks for nothing
        # reward / allotted >= hourly / 1 h  <=>  allotted <= reward * (1 h / hourly): no division in SQL.
        jobs = jobs.filter(assignment_duration__lte=_Times(F("reward_cents"), timedelta(hours=1) / min_hourly_cents))
    if answer_type:
        jobs = jobs.filter(label_schema__type=answer_type)
    if max_rejected_share is not None:
        jobs = jobs.filter(
            requester__standing__reviews__gt=0,
            requester__standing__rejected__lte=F("requester__standing__reviews") * max_rejected_share,
        )
    if language:
        jobs = jobs.filter(language__in=[language, ""])
    return jobs.order_by("-reward_cents", "pk")


def worker_open_assignment_list(*, worker: User, job_id: int | None = None) -> QuerySet[Assignment]:
    """The worker's open assignments not yet overdue, oldest first: what a reloaded page or a return brings back."""
    found = worker_assignment_list(worker=worker).filter(status=AssignmentStatus.OPEN, expires_at__gt=timezone.now())
    if job_id is not None:
        found = found.filter(job_id=job_id)
    return found.order_by("created_at", "pk")


def worker_earnings_by_job_day(*, worker: User) -> QuerySet[Assignment]:
    """The worker's submitted work per job and day (UTC), newest first: tasks submitted, approved, rejected, and the
    reward of the approved ones (approval pays the job's `reward_cents` per assignment, `services.reviews`)."""
    approved = Q(review_status=ReviewStatus.APPROVED)
    return (
        Assignment.objects.filter(worker=worker, status=AssignmentStatus.SUBMITTED)
        .annotate(day=TruncDate("submitted_at"))
        .values("day", "job_id", "job__title", "job__currency")
        .annotate(
            submitted=Count("pk"),
            approved=Count("pk", filter=approved),
            rejected=Count("pk", filter=Q(review_status=ReviewStatus.REJECTED)),
            earned=Coalesce(Sum("job__reward_cents", filter=approved), 0),
        )
        .order_by("-day", "job_id")
    )


def worker_rejection_list(*, worker: User) -> QuerySet[Assignment]:
    """The worker's rejected work with its reason and its appeal (`appeals`, none or one), newest first."""
    return (
        worker_assignment_list(worker=worker)
        .filter(review_status=ReviewStatus.REJECTED)
        .prefetch_related("appeals")
        .order_by("-submitted_at", "-pk")
    )


def work_job_get(*, job_id: int) -> Job:
    """A job a worker may ask to claim on; drafts are invisible. Whether they may claim is the service's call."""
    job = Job.objects.exclude(status=JobStatus.DRAFT).filter(pk=job_id).first()
    if job is None:
        raise NotFound("No such job.")
    return job


def worker_assignment_list(*, worker: User) -> QuerySet[Assignment]:
    return Assignment.objects.filter(worker=worker).select_related("job")


def worker_assignment_get(*, worker: User, assignment_id: int) -> Assignment:
    assignment = worker_assignment_list(worker=worker).filter(pk=assignment_id).first()
    if assignment is None:
        raise NotFound("No such assignment.")
    return assignment


def assignment_items(*, assignment: Assignment) -> list[Item]:
    """The assignment's items in the order the worker sees them."""
    by_id = Item.objects.only("id", "payload").in_bulk(assignment.item_ids)
    return [by_id[item_id] for item_id in assignment.item_ids]


def assignment_answer_values(*, assignment: Assignment) -> dict[int, Any]:
    """The worker's own answers, by position."""
    values = dict(Answer.objects.filter(assignment=assignment).values_list("item_id", "value"))
    return {position: values[item_id] for position, item_id in enumerate(assignment.item_ids) if item_id in values}


# --- Progress: what a requester sees -------------------------------------------------------------------------------


def job_progress(*, job: Job) -> dict[str, int]:
    """Counts for the job's progress page: a few aggregate queries, gold kept out of every figure. Slots added after
    launch that wait for funds are shown with what the requester must deposit to open them."""
    tasks = MicroTask.objects.filter(job=job).aggregate(
        tasks_total=Count("id"),
        items_total=Coalesce(Sum("n_items"), 0),
        tasks_complete=Count("id", filter=Q(submitted_count__gte=F("overlap_target"))),
        items_complete=Coalesce(Sum("n_items", filter=Q(submitted_count__gte=F("overlap_target"))), 0),
        answers_target=Coalesce(Sum(F("n_items") * F("overlap_target")), 0),
        slots_waiting_for_funds=Coalesce(Sum("unfunded_slots"), 0),
    )
    by_status = dict(
        Assignment.objects.filter(job=job).values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    answers = Answer.objects.filter(job=job, is_gold=False).count()
    waiting = tasks["slots_waiting_for_funds"] if job.status in (JobStatus.ACTIVE, JobStatus.PAUSED) else 0
    return {
        **tasks,
        "slots_waiting_for_funds": waiting,
        "deposit_needed_cents": job_deposit_needed(job=job, slots=waiting) if waiting else 0,
        "answers_collected": answers,
        **{f"assignments_{status}": by_status.get(status, 0) for status in AssignmentStatus.values},
        "workers_out_of_gold": workers_out_of_gold(job=job),
    }


# --- Money a job may still need --------------------------------------------------------------------------------------


def job_fee_rate(job: Job) -> Decimal:
    """The platform's fee rate on the job's rewards (and bonuses): fixed at launch, else the current setting."""
    return job.fee_rate if job.fee_rate is not None else Decimal(settings.PLATFORM_FEE_RATE)


def assignment_price(job: Job) -> tuple[int, int]:
    """(reward, fee) of one assignment of the job."""
    fee, _ = fee_split(gross=job.reward_cents, rate=job_fee_rate(job))
    return job.reward_cents, fee


def job_slots_owed(*, job: Job) -> int:
    """The slots the job may still pay for, each at reward + fee; its escrow must hold at least this many.

    Open assignments, submitted work awaiting review, and rejections that may still be appealed (inside the appeal
    window and not appealed, or appealed and not decided); while the job may take claims (active or paused), every
    free slot of its tasks as well. Slots waiting for funds are not owed: nobody can claim them.
    """
    appeal_open_since = timezone.now() - settings.APPEAL_WINDOW
    # A rejection may still cost its reward while it can be appealed (inside the window, not appealed yet) or while
    # its appeal is open, however long an admin takes; a decided appeal frees it (or was paid).
    appeal = Dispute.objects.filter(assignment=OuterRef("pk"))
    counts = Assignment.objects.filter(job=job).aggregate(
        open=Count("id", filter=Q(status=AssignmentStatus.OPEN)),
        pending=Count("id", filter=Q(status=AssignmentStatus.SUBMITTED, review_status=ReviewStatus.PENDING)),
        appealable=Count(
            "id",
            filter=Q(review_status=ReviewStatus.REJECTED)
            & (
                Exists(appeal.filter(status=DisputeStatus.OPEN))
                | (Q(reviewed_at__gt=appeal_open_since) & ~Exists(appeal))
            ),
        ),
    )
    free = 0
    if job.status in (JobStatus.ACTIVE, JobStatus.PAUSED):
        free = MicroTask.objects.filter(job=job).aggregate(
            free=Coalesce(Sum(F("overlap_target") - F("assigned_count")), 0)
        )["free"]
    return free + counts["open"] + counts["pending"] + counts["appealable"]


def job_deposit_needed(*, job: Job, slots: int) -> int:
    """What the requester must deposit so that `slots` more slots of the job could be funded: their price, less
    the escrow's surplus over what is owed and the requester's available balance (read without locks)."""
    reward, fee = assignment_price(job)
    escrow = account_escrow_get(job_id=job.pk, currency=job.currency)
    surplus = (escrow.balance if escrow else 0) - job_slots_owed(job=job) * (reward + fee)
    available = next((b.available for b in balance_list(user=job.requester) if b.currency == job.currency), 0)
    return max(0, slots * (reward + fee) - surplus - available)


def workers_out_of_gold(*, job: Job) -> int:
    """Workers on the job, not blocked, for whom fewer usable gold items (unseen, not flagged) are left than an
    assignment holds: their claims are refused until the requester uploads more gold."""
    if not job.gold_per_assignment:
        return 0
    usable = Item.objects.filter(job=job, is_gold=True, gold_flagged_at__isnull=True)
    seen = (
        GoldExposure.objects.filter(job=job, worker=OuterRef("worker"), item__gold_flagged_at__isnull=True)
        .values("worker")
        .annotate(n=Count("id"))
        .values("n")
    )
    left = usable.count() - Coalesce(Subquery(seen, output_field=IntegerField()), 0)
    return (
        Participation.objects.filter(job=job, blocked_at__isnull=True)
        .alias(left=left)
        .filter(left__lt=job.gold_per_assignment)
        .count()
    )


# --- Results and worker quality ------------------------------------------------------------------------------------


def result_list(*, job: Job) -> QuerySet[Item]:
    """The job's real items with their aggregated result (None until the first aggregation reaches them)."""
    return Item.objects.filter(job=job, is_gold=False).select_related("result").order_by("id")


EXPORT_FIELDS = (
    *("id", "external_id", "payload"),
    *("result__label", "result__confidence", "result__answer_count", "result__posterior"),
)


def result_export_rows(*, job: Job, with_answers: bool, chunk: int = 2000) -> Iterator[dict[str, Any]]:
    """Every real item with its result, streamed in keyset-paginated chunks (constant memory on any job size):
    the posterior as class -> probability. With `with_answers`, each row also carries the raw answers: worker id
    and answer."""
    schema = parse_label_schema(job.label_schema)
    for rows in _export_chunks(job, chunk):
        raw = _raw_answers([r[0] for r in rows]) if with_answers else {}
        for item_id, external_id, payload, label, confidence, count, posterior in rows:
            row = {
                "item_id": item_id,
                "external_id": external_id,
                "payload": payload,
                "label": label,
                "confidence": confidence,
                "answer_count": count or 0,
                "posterior": posterior_by_class(posterior, schema.classes),
            }
            if schema.parts:  # each box's or span's confidence, in the label's order (null before aggregation)
                row["part_confidence"] = posterior if label is not None else None
            if with_answers:
                row["answers"] = raw.get(item_id, [])
            yield row


def result_export_items(*, job: Job, chunk: int = 2000) -> Iterator[ExportRow]:
    """Every real item with its result as a type's own export format reads it (`AnswerType.exports`): its fields
    with media described (text files with their text: a spans export writes it out), streamed in chunks."""
    for rows in _export_chunks(job, chunk):
        contexts = item_contexts(job=job, payloads=[row[2] for row in rows], with_text=True)
        for (item_id, external_id, _, label, confidence, _, posterior), fields in zip(rows, contexts, strict=True):
            yield ExportRow(item_id, external_id, fields, label, confidence, posterior)


def _export_chunks(job: Job, chunk: int) -> Iterator[list[tuple[Any, ...]]]:
    """The job's real items with their results (`EXPORT_FIELDS`), by id, `chunk` at a time (keyset pagination)."""
    last = 0
    while rows := list(
        Item.objects.filter(job=job, is_gold=False, id__gt=last).order_by("id").values_list(*EXPORT_FIELDS)[:chunk]
    ):
        last = rows[-1][0]
        yield rows


def _raw_answers(item_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = {}
    answers = Answer.objects.filter(item_id__in=item_ids).order_by("id").values_list("item_id", "worker_id", "value")
    for item_id, worker_id, value in answers:
        grouped.setdefault(item_id, []).append({"worker": worker_id, "answer": value})
    return grouped


def job_aggregate_get(*, job: Job) -> JobAggregate | None:
    return JobAggregate.objects.filter(job=job, computed_at__isnull=False).first()  # not a mere request


def job_worker_list(*, job: Job) -> QuerySet[Participation]:
    """Every worker who took part in the job, with their gold record and estimated quality."""
    return Participation.objects.filter(job=job).order_by("id")


def worker_quality_list(*, worker: User) -> QuerySet[Participation]:
    """The worker's own record per job: gold answered and right, and the estimated accuracy."""
    return Participation.objects.filter(worker=worker).select_related("job").order_by("-id")


def requester_block_list(*, requester: User) -> QuerySet[Block]:
    """The blocks on the requester's jobs and on all of them, standing or lifted, newest first."""
    return Block.objects.filter(requester=requester).prefetch_related("rejected").order_by("-id")


def worker_block_list(*, worker: User) -> QuerySet[Block]:
    """The worker's own blocks, standing or lifted, newest first, with the work each rejected and its appeal."""
    rejected = Assignment.objects.prefetch_related("appeals").order_by("id")
    return (
        Block.objects.filter(worker=worker)
        .select_related("job")
        .prefetch_related(Prefetch("rejected", queryset=rejected))
        .order_by("-id")
    )


def finished_job_ids_with_escrow() -> list[int]:
    """Finished jobs (completed, cancelled, expired), funded at launch, finished within the appeal window (plus a
    day): the ones whose escrow may still hold money that settling would free."""
    since = timezone.now() - settings.APPEAL_WINDOW - timedelta(days=1)
    finished = Job.objects.filter(status__in=FINISHED_STATUSES, fee_rate__isnull=False)
    return list(finished.filter(finished_at__gte=since).values_list("id", flat=True))


def job_assignment_list(*, job: Job) -> QuerySet[Assignment]:
    return Assignment.objects.filter(job=job).order_by("id")


# --- Media: items' files, for their requester and for the worker holding them ---------------------------------------


def media_kinds(*, job: Job) -> dict[str, str]:
    """The job's media files by name, with their kind: what the ingest checks the items' media fields against."""
    return dict(MediaFile.objects.filter(job=job).values_list("name", "kind"))


def media_list(*, job: Job) -> QuerySet[MediaFile]:
    return MediaFile.objects.filter(job=job).order_by("name")


def media_get(*, requester: User, job_id: int, name: str) -> MediaFile:
    """One of the requester's own jobs' media files; anyone else's is a 404, like a missing one."""
    media = MediaFile.objects.filter(job__requester=requester, job_id=job_id, name=name).first()
    if media is None:
        raise NotFound("No such media file.")
    return media


def media_fields(job: Job) -> dict[str, str]:
    """The job's media fields (item schema types image, audio, text_file), with their kind; cached on the job."""
    fields = getattr(job, "_media_fields", None)
    if fields is None:
        fields = job._media_fields = parse_item_schema(job.item_schema).media_fields
    return fields


def media_described(
    *, job: Job, names: Iterable[str] | None = None, with_text: bool = False
) -> dict[str, dict[str, Any]]:
    """The job's media files (those of `names`, or all) as an item's media field shows them to an answer type:
    `{"media": name, "kind": ..., "width": ..., "height": ..., "characters": ...}` by name; `with_text`: a text
    file's description also holds its `text`, read from the media storage (one read per text file)."""
    files = MediaFile.objects.filter(job=job) if names is None else MediaFile.objects.filter(job=job, name__in=names)
    described = {}
    for media in files.only("name", "kind", "width", "height", "characters", "sha256"):
        described[media.name] = {
            "media": media.name,
            "kind": media.kind,
            "width": media.width,
            "height": media.height,
            "characters": media.characters,
        }
        if with_text and media.kind == MediaKind.TEXT:
            with storages["media"].open(media.storage_name, "rb") as stored:
                described[media.name]["text"] = stored.read().decode("utf-8")
    return described


def item_context(payload: dict[str, Any], media: Mapping[str, str], described: Mapping[str, Any]) -> dict[str, Any]:
    """One payload as an answer type that depends on its item reads it (`AnswerType.needs_item`): its fields, each
    media field (`media`: field -> kind) described by its file (a name without a file stays as it is)."""
    return {
        key: described.get(value, value) if key in media and isinstance(value, str) else value
        for key, value in payload.items()
    }


def item_contexts(*, job: Job, payloads: list[dict[str, Any]], with_text: bool = False) -> list[dict[str, Any]]:
    """`item_context` of each payload, its media read in one query (`with_text`: text files' texts too)."""
    fields = media_fields(job)
    if not fields:
        return [dict(payload) for payload in payloads]
    names = {p.get(f) for p in payloads for f in fields if isinstance(p.get(f), str)}
    described = media_described(job=job, names=names, with_text=with_text)
    return [item_context(payload, fields, described) for payload in payloads]


def widget_texts(*, job: Job, payloads: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Per payload, the text files the job's answer widget draws itself (the fields its label schema names that may
    be a text file and are one: a spans job's text, held in a file), read for the task page: `{field: text}`.
    Gold and real items take the same reads."""
    schema = parse_label_schema(job.label_schema)
    media = media_fields(job)
    fields = [
        field
        for field, kinds in getattr(schema, "item_fields", {}).values()
        if field and "text_file" in kinds and media.get(field) == MediaKind.TEXT
    ]
    if not fields:
        return [{} for _ in payloads]
    names = {p.get(f) for p in payloads for f in fields if isinstance(p.get(f), str)}
    described = media_described(job=job, names=names, with_text=True)
    return [
        {f: described[p[f]]["text"] for f in fields if isinstance(p.get(f), str) and "text" in described.get(p[f], {})}
        for p in payloads
    ]


def assignment_media_get(*, worker: User, assignment_id: int, position: int, field: str) -> MediaFile:
    """The media file in `field` of the item at `position` of the worker's own assignment, while it is open.

    Gold and real items take the same steps here (one assignment read, one item read, one media read), and every
    refusal is the same 404: the answer tells nothing about whose assignment it is or what the item is.
    """
    now = timezone.now()
    assignment = (
        Assignment.objects.select_related("job")
        .filter(pk=assignment_id, worker=worker, status=AssignmentStatus.OPEN, expires_at__gt=now)
        .first()
    )
    if assignment is None or not 0 <= position < len(assignment.item_ids):
        raise NotFound("No such media.")
    if field not in media_fields(assignment.job):
        raise NotFound("No such media.")
    name = Item.objects.filter(pk=assignment.item_ids[position]).values_list(f"payload__{field}", flat=True).first()
    media = MediaFile.objects.filter(job_id=assignment.job_id, name=name).first() if name else None
    if media is None:
        raise NotFound("No such media.")
    return media


def hidden_requester_list(*, worker: User) -> QuerySet[HiddenRequester]:
    return HiddenRequester.objects.filter(worker=worker).select_related("requester").order_by("-created_at")


def prediction_list(*, job: Job) -> QuerySet[Prediction]:
    return Prediction.objects.filter(job=job).order_by("item_id", "model")


def assignment_prelabels(*, assignment: Assignment) -> list[dict[str, Any] | None]:
    """The job's pre-label model's prediction on each item of the assignment, in order (None where there is none;
    a launched job has one on every item)."""
    model = assignment.job.prelabel_model
    found = {
        item_id: {"answer": answer, "score": score}
        for item_id, answer, score in Prediction.objects.filter(
            item_id__in=assignment.item_ids, model=model
        ).values_list("item_id", "answer", "score")
    }
    return [found.get(item_id) for item_id in assignment.item_ids]
