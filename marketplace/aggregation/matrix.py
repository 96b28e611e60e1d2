"""The answers as one sparse matrix, so that every sum over answers is a sparse-dense product.

``by_task`` has shape ``(n_tasks, n_workers * K)``: row ``t`` holds a 1 in column ``w * K + l`` when worker
``w`` answered label ``l`` on task ``t``. With ``T`` the ``(n_tasks, K)`` posteriors and ``π[w, k, l]`` the
probability that worker ``w`` answers ``l`` when the truth is ``k``:

- E-step, log joint per task:  ``log p(t, k) = log ρ_k + Σ_{w,l} A[t, w*K+l] · log π[w, k, l]``
  →  ``A @ log π`` with ``log π`` laid out as ``(n_workers * K, K)`` (row ``w*K+l``, column ``k``);
- M-step, expected confusion counts:  ``n[w, l, k] = Σ_t A[t, w*K+l] · T[t, k]``  →  ``Aᵀ @ T``.

Both products walk ``A`` in task order: the E-step reads rows of the small ``log π`` table at random and
writes its output in order; the M-step (``Aᵀ`` is a free CSC view) reads ``T`` in order and adds into the
small ``(n_workers * K, K)`` count table. Keeping the random accesses on the small side keeps them in cache,
which is what makes an iteration fast at millions of answers; and one matrix serves both steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from marketplace.aggregation.inputs import Answers, FloatArray


@dataclass(frozen=True, eq=False)
class AnswerMatrix:
    by_task: sp.csr_array
    n_workers: int
    n_classes: int

    @classmethod
    def build(cls, answers: Answers) -> AnswerMatrix:
        k = answers.n_classes
        shape = (answers.n_tasks, answers.n_workers * k)
        # 32-bit indices whenever they fit: the products are memory-bound and read one index per answer.
        wide = max(*shape, answers.n_answers) >= np.iinfo(np.int32).max
        index: np.dtype[Any] = np.dtype(np.int64 if wide else np.int32)
        pairs = answers.workers.astype(index) * k
        pairs += answers.labels  # in place: stays 32-bit
        ones = np.ones(answers.n_answers, dtype=np.float64)
        tasks = answers.tasks
        if answers.n_answers and bool((tasks[1:] >= tasks[:-1]).all()):
            # Answers already grouped by task (e.g. ORDER BY task): the CSR arrays are the inputs as they are.
            indptr = np.zeros(answers.n_tasks + 1, dtype=index)
            np.cumsum(np.bincount(tasks, minlength=answers.n_tasks), out=indptr[1:])
            by_task = sp.csr_array((ones, pairs, indptr), shape=shape)
        else:
            # COO -> CSR is a counting sort in C; a duplicate answer becomes a 2, i.e. it counts twice.
            by_task = sp.coo_array((ones, (tasks.astype(index), pairs)), shape=shape).tocsr()
        return cls(by_task=by_task, n_workers=answers.n_workers, n_classes=k)

    def log_evidence(self, log_confusion: FloatArray) -> FloatArray:
        """``Σ_answers log π[w, k, l]`` per task and true class ``k``; ``log_confusion`` is ``(W, l, k)``."""
        flat = log_confusion.reshape(self.n_workers * self.n_classes, self.n_classes)
        return np.asarray(self.by_task @ flat)

    def expected_counts(self, posteriors: FloatArray) -> FloatArray:
        """``n[w, l, k]``: expected number of times worker w answered l on a task whose truth is k."""
        counts = self.by_task.T @ posteriors
        return np.asarray(counts).reshape(self.n_workers, self.n_classes, self.n_classes)
