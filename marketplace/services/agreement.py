"""How much a job's workers agree with one another: Krippendorff's alpha (nominal) and Fleiss' kappa, overall and
per class, with bootstrap confidence intervals (`marketplace.aggregation.agreement`).

Read-only, computed on request from the job's answers on real items (gold left out: its answers are graded, not
pooled) by the workers the aggregation keeps (blocked workers left out, as it leaves them out). Items with fewer than
two such answers do not count; `items` says how many did.
"""

from typing import Any

import numpy as np

from marketplace.aggregation.agreement import categorical_agreement
from marketplace.models import Answer, Job, Participation
from marketplace.schemas import parse_label_schema


def job_agreement(*, job: Job) -> dict[str, Any]:
    classes = parse_label_schema(job.label_schema).classes
    index = {label: c for c, label in enumerate(classes)}
    blocked = Participation.objects.filter(job=job, blocked_at__isnull=False).values("worker_id")
    rows = [
        (item, index[value])
        for item, value in Answer.objects.filter(job=job, is_gold=False)
        .exclude(worker_id__in=blocked)
        .values_list("item_id", "value")
        if isinstance(value, str) and value in index  # a class; structured answers (lists) have no classes here
    ]
    items = np.array([item for item, _ in rows], dtype=np.int64)
    _, tasks = np.unique(items, return_inverse=True)
    result = categorical_agreement(
        tasks=tasks,
        labels=np.array([label for _, label in rows], dtype=np.int64),
        n_tasks=int(tasks.max()) + 1 if len(tasks) else 0,
        n_classes=len(classes),
    )
    return {
        "krippendorff_alpha": result.alpha.as_dict(),
        "fleiss_kappa": result.kappa.as_dict(),
        "per_class": {
            label: {"krippendorff_alpha": alpha.as_dict(), "fleiss_kappa": kappa.as_dict()}
            for label, alpha, kappa in zip(classes, result.alpha_per_class, result.kappa_per_class, strict=True)
        },
        "answers": len(rows),
    }
