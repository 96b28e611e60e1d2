from marketplace.models.items import Item, MicroTask, Upload
from marketplace.models.jobs import Job, JobStatus

__all__ = ["Item", "Job", "JobStatus", "MicroTask", "Upload"]
