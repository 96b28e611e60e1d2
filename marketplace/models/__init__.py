from marketplace.models.assignments import (
    Answer,
    Assignment,
    AssignmentStatus,
    GoldExposure,
    Participation,
    ReviewStatus,
)
from marketplace.models.blocks import Block, BlockSource
from marketplace.models.disputes import (
    DECISIONS_BY_KIND,
    Dispute,
    DisputeAction,
    DisputeDecision,
    DisputeKind,
    DisputeStatus,
)
from marketplace.models.items import Item, MicroTask, Upload
from marketplace.models.jobs import FINISHED_STATUSES, ClaimOrder, Job, JobQualification, JobStatus, WorkerModel
from marketplace.models.media import MediaFile, MediaKind
from marketplace.models.predictions import ModelEndpoint, ModelQuality, ModelRequest, Prediction
from marketplace.models.results import ItemResult, JobAggregate, ProgressSnapshot, posterior_by_class
from marketplace.models.standing import HiddenRequester, RequesterStanding
from marketplace.models.webhooks import SUBSCRIBABLE_EVENTS, WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "Answer",
    "Assignment",
    "AssignmentStatus",
    "Block",
    "BlockSource",
    "ClaimOrder",
    "DECISIONS_BY_KIND",
    "FINISHED_STATUSES",
    "Dispute",
    "DisputeAction",
    "DisputeDecision",
    "DisputeKind",
    "DisputeStatus",
    "GoldExposure",
    "Item",
    "ItemResult",
    "HiddenRequester",
    "Job",
    "JobAggregate",
    "JobQualification",
    "JobStatus",
    "MediaFile",
    "MediaKind",
    "MicroTask",
    "Participation",
    "ModelEndpoint",
    "ModelQuality",
    "ModelRequest",
    "Prediction",
    "ProgressSnapshot",
    "RequesterStanding",
    "ReviewStatus",
    "Upload",
    "SUBSCRIBABLE_EVENTS",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "WorkerModel",
    "posterior_by_class",
]
