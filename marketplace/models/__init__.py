from marketplace.models.assignments import Answer, Assignment, AssignmentStatus, GoldExposure, Participation
from marketplace.models.items import Item, MicroTask, Upload
from marketplace.models.jobs import Job, JobStatus

__all__ = [
    "Answer",
    "Assignment",
    "AssignmentStatus",
    "GoldExposure",
    "Item",
    "Job",
    "JobStatus",
    "MicroTask",
    "Participation",
    "Upload",
]
