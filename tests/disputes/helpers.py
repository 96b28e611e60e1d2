"""Builders for the dispute tests: submitted and rejected work, and readers of the money it moves."""

from marketplace.accounts.models import User
from marketplace.models import Assignment, Job
from marketplace.services.assignments import assignment_claim, assignment_submit
from marketplace.services.reviews import assignment_reject
from payments.models import Transaction
from payments.selectors import account_escrow_get, balance_list
from tests.factories import WorkerFactory
from tests.marketplace.helpers import answers_for

REWARD, FEE = 25, 5  # the factory's reward at the default 20% fee


def submitted(job: Job, worker: User | None = None, label: str = "cat") -> Assignment:
    worker = worker or WorkerFactory()
    assignment = assignment_claim(job_id=job.pk, worker=worker)
    return assignment_submit(assignment_id=assignment.pk, worker=worker, answers=answers_for(assignment, label))


def rejected(job: Job, worker: User | None = None, label: str = "cat") -> Assignment:
    done = submitted(job, worker, label)
    return assignment_reject(assignment_id=done.pk, by=job.requester, reason="Too many wrong answers.")


def payable(user: User) -> int:
    found = balance_list(user=user)
    return found[0].payable if found else 0


def escrow(job: Job) -> int:
    account = account_escrow_get(job_id=job.pk, currency=job.currency)
    return account.balance if account else 0


def payments_for(assignment: Assignment) -> int:
    return Transaction.objects.filter(idempotency_key=f"assignment:{assignment.pk}:pay").count()


def leave_nothing_to_pay_with(job) -> None:
    """Empty the job's escrow and put the requester's whole balance out of reach (in another job's escrow), so that
    neither the escrow nor a top-up can pay an overturn."""
    from payments.selectors import balance_list
    from payments.services.escrow import escrow_fund, escrow_refund

    escrow_refund(job_id=job.pk, requester=job.requester, currency="USD", idempotency_key=f"drain-{job.pk}")
    available = sum(b.available for b in balance_list(user=job.requester))
    if available:
        escrow_fund(
            job_id=10**9 + job.pk,
            requester=job.requester,
            amount=available,
            currency="USD",
            idempotency_key=f"away-{job.pk}",
        )
