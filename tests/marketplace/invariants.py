"""Checks of the assignment engine's invariants over the whole database, for tests and the claims benchmark."""

from collections import Counter

from django.db.models import Count, Q

from marketplace.models import Answer, Assignment, AssignmentStatus, MicroTask, Participation


def assignment_invariant_violations() -> list[str]:
    """Every way the stored state breaks a rule of the assignment engine; empty when all hold."""
    problems = []
    live = Q(assignments__status__in=[AssignmentStatus.OPEN, AssignmentStatus.SUBMITTED])
    tasks = MicroTask.objects.annotate(
        live=Count("assignments", filter=live),
        submitted=Count("assignments", filter=Q(assignments__status=AssignmentStatus.SUBMITTED)),
    )
    for task in tasks:
        if task.live > task.overlap_target:
            problems.append(f"task {task.pk}: {task.live} live assignments > target {task.overlap_target}")
        if (task.assigned_count, task.submitted_count) != (task.live, task.submitted):
            problems.append(
                f"task {task.pk}: counters {task.assigned_count}/{task.submitted_count} "
                f"!= actual {task.live}/{task.submitted}"
            )
    pairs = Counter(Assignment.objects.values_list("task_id", "worker_id"))
    problems += [f"worker {w} had task {t} {n} times" for (t, w), n in pairs.items() if n > 1]
    for assignment in Assignment.objects.annotate(n=Count("answers")):
        expected = len(assignment.item_ids) if assignment.status == AssignmentStatus.SUBMITTED else 0
        if assignment.n != expected:
            problems.append(f"assignment {assignment.pk} ({assignment.status}) has {assignment.n} answers")
    answered = Counter(Answer.objects.values_list("item_id", "worker_id"))
    problems += [f"worker {w} answered item {i} {n} times" for (i, w), n in answered.items() if n > 1]
    opened = Counter(Assignment.objects.filter(status=AssignmentStatus.OPEN).values_list("job_id", "worker_id"))
    for p in Participation.objects.all():
        if p.open_assignments != opened.get((p.job_id, p.worker_id), 0):
            problems.append(
                f"participation {p.pk}: open {p.open_assignments} != {opened.get((p.job_id, p.worker_id), 0)}"
            )
    return problems
