"""The sequence model's parameters and its two EM steps, on the unit layout of :mod:`.units`.

Hidden: the true BIO tag of every position, a Markov chain per text (transitions ``A`` masked to well-formed
BIO, first-state probabilities ``s``). Observed: each worker's tag on each position of the texts it answered.
A worker's tag depends on the true tag **and on the worker's own previous tag**: ``π[w, previous, tag, true]``
(a sequential worker model, as in Simpson & Gurevych 2019's BSC-seq; the HMM-Crowd of Nguyen et al. 2017
conditions on the true tag only). It is what makes a worker who marks one long span count about once per span
rather than once per token: inside its own span a worker's ``I`` after its ``B`` says little, its ``B`` a lot.
On the CoNLL crowd set this model is about 2.5 F1 points above token Dawid-Skene, and the true-tag-only HMM
below it (see bench/README.md).

The chain runs over units (:mod:`.units`): a unit's state ``k`` is its first position's tag and its other
``length − 1`` positions are in state ``inner(k)`` (``O`` for ``O``, ``I-c`` for ``B-c`` and ``I-c``). So a
unit's evidence is its first position's pairs under ``k`` plus its other positions' pairs under ``inner(k)``,
and it carries the transitions ``k → inner(k)`` once and ``inner(k) → inner(k)`` ``length − 2`` times.

E-step: unit evidence from sparse products, then forward-backward. M-step: confusion counts from the
posteriors (MAP, the Dirichlet prior of Dawid-Skene on every ``(worker, previous tag, true tag)`` row),
transitions and first states from the expected counts, with one pseudo-count per allowed cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from marketplace.aggregation.em import DirichletPrior
from marketplace.aggregation.inputs import BoolArray, FloatArray
from marketplace.aggregation.spans.bio import OUTSIDE, allowed_transitions, n_states
from marketplace.aggregation.spans.inputs import Int64Array, SpanAnswers
from marketplace.aggregation.spans.sequence import Chains, Smoothed, forward_backward, transition_counts
from marketplace.aggregation.spans.units import Observations, Units

_LOG_FLOOR = -700.0
_TRANSITION_PSEUDO = 1.0


@dataclass(frozen=True, eq=False)
class Problem:
    """Everything EM needs, built once: the layout, the count matrices, gold, the masks and the prior."""

    units: Units
    chains: Chains
    # Every per-unit array below is in the chains' position-major order (see :mod:`.sequence`), so that
    # forward-backward reads and writes them in place: row ``chains.index[u]`` is unit ``u``.
    unit_task: Int64Array
    task_rows: sp.csr_array  # (tasks, units): 1 where the unit is in the task
    first_pairs: sp.csr_array  # (units, W*K*K): column (w*K + previous)*K + tag
    rest_pairs: sp.csr_array
    responses: sp.csr_array  # (tasks, W): 1 per response
    rest_length: FloatArray  # length − 1 per unit
    inner: Int64Array  # inner(k) per state
    gold_units: Int64Array  # rows
    gold_tags: Int64Array
    allowed: BoolArray
    first: BoolArray
    pseudo: FloatArray  # (K tag, K true), the same for every worker and previous tag
    n_workers: int
    n_states: int

    @classmethod
    def build(
        cls,
        answers: SpanAnswers,
        units: Units,
        pairs: tuple[Observations, Observations],
        gold: tuple[Int64Array, Int64Array],
        prior: DirichletPrior,
    ) -> Problem:
        k = n_states(answers.n_classes)
        shape = (units.n_units, answers.n_workers * k * k)
        inner = np.arange(k, dtype=np.int64)
        inner[1::2] += 1  # B-c -> I-c
        allowed, first = allowed_transitions(answers.n_classes)
        chains = Chains.build(units.count)
        row = chains.index
        unit_task = np.empty_like(units.task)
        unit_task[row] = units.task
        rest_length = np.empty(units.n_units)
        rest_length[row] = units.length - 1
        return cls(
            units=units,
            chains=chains,
            unit_task=unit_task,
            task_rows=sp.csr_array(
                (np.ones(units.n_units), (unit_task, np.arange(units.n_units))), shape=(answers.n_tasks, units.n_units)
            ),
            first_pairs=_pair_matrix(pairs[0], row, k, shape),
            rest_pairs=_pair_matrix(pairs[1], row, k, shape),
            responses=sp.csr_array(
                (np.ones(answers.n_responses), (answers.tasks, answers.workers)),
                shape=(answers.n_tasks, answers.n_workers),
            ),
            rest_length=rest_length,
            inner=inner,
            gold_units=row[gold[0]],
            gold_tags=gold[1],
            allowed=allowed,
            first=first,
            pseudo=prior.confusion_pseudo_counts(k),
            n_workers=answers.n_workers,
            n_states=k,
        )

    def to_inner(self, posteriors: FloatArray) -> FloatArray:
        """Posterior mass of each unit's other positions per state: ``Σ_{k: inner(k) = j} P(z_u = k)``."""
        mass = np.zeros_like(posteriors)
        mass[:, OUTSIDE] = posteriors[:, OUTSIDE]
        mass[:, 2::2] = posteriors[:, 1::2] + posteriors[:, 2::2]  # B-c and I-c both continue as I-c
        return mass

    def task_sums(self, values: FloatArray) -> FloatArray:
        return np.asarray(self.task_rows @ values)

    @property
    def first_rows(self) -> slice:
        """The rows of every text's first unit."""
        return self.chains.rows(0) if self.chains.longest else slice(0, 0)


def _pair_matrix(pairs: Observations, row: Int64Array, k: int, shape: tuple[int, int]) -> sp.csr_array:
    columns = (pairs.workers * k + pairs.previous) * k + pairs.tags
    return sp.csr_array((pairs.weights.astype(np.float64), (row[pairs.units], columns)), shape=shape)


@dataclass(frozen=True, eq=False)
class Parameters:
    log_confusion: FloatArray  # (W, previous, tag, true)
    log_transitions: FloatArray
    log_start: FloatArray


@dataclass(frozen=True, eq=False)
class Estep:
    posteriors: FloatArray  # (units, K), rows
    smoothed: Smoothed
    emissions: FloatArray  # scaled
    log_emissions: FloatArray  # shifted by each row's maximum
    log_likelihood: float


def initial_posteriors(problem: Problem) -> FloatArray:
    """Each unit's first-position tag vote shares (uniform for a unit nobody answered), gold units clamped."""
    k = problem.n_states
    coo = problem.first_pairs.tocoo()
    votes = np.bincount(coo.row * k + coo.col % k, weights=coo.data, minlength=problem.units.n_units * k)
    votes = votes.reshape(problem.units.n_units, k).astype(np.float64)  # an empty bincount is int
    votes[:, OUTSIDE] += np.asarray(problem.responses.sum(axis=1)).reshape(-1)[problem.unit_task]
    totals = votes.sum(axis=1, keepdims=True)
    shares = np.divide(votes, totals, out=np.full_like(votes, 1.0 / k), where=totals > 0)
    shares[problem.gold_units] = 0.0
    shares[problem.gold_units, problem.gold_tags] = 1.0
    return shares


def m_step(
    problem: Problem, posteriors: FloatArray, transitions: FloatArray | None, start: FloatArray | None
) -> Parameters:
    """MAP parameters given the unit posteriors and the expected transition and first-state counts
    (``None`` on the first iteration: uniform over the allowed cells)."""
    k, w = problem.n_states, problem.n_workers
    rest = problem.to_inner(posteriors)
    counts = np.asarray(problem.first_pairs.T @ posteriors + problem.rest_pairs.T @ rest).reshape(w, k, k, k)
    outside_mass = problem.task_sums(posteriors + problem.rest_length[:, None] * rest)
    counts[:, OUTSIDE, OUTSIDE, :] += np.asarray(problem.responses.T @ outside_mass)
    counts += problem.pseudo[None, None, :, :]
    expected = transitions if transitions is not None else np.zeros((k, k))
    first = start if start is not None else np.zeros(k)
    trans = np.where(problem.allowed, expected + _TRANSITION_PSEUDO, 0.0)
    begin = np.where(problem.first, first + _TRANSITION_PSEUDO, 0.0)
    with np.errstate(divide="ignore"):
        return Parameters(
            log_confusion=np.log(counts / counts.sum(axis=2, keepdims=True)),
            log_transitions=np.log(trans / trans.sum(axis=1, keepdims=True)),
            log_start=np.log(begin / begin.sum()),
        )


def e_step(problem: Problem, params: Parameters) -> Estep:
    """Unit evidence, then forward-backward."""
    log_evidence = _log_evidence(problem, params)
    if len(problem.gold_units):
        # A gold unit can only be in its gold state; its answers still count toward the likelihood.
        known = log_evidence[problem.gold_units, problem.gold_tags]
        log_evidence[problem.gold_units] = -np.inf
        log_evidence[problem.gold_units, problem.gold_tags] = known
    shift = _row_max(log_evidence)
    shifted = log_evidence
    shifted -= shift[:, None]
    np.maximum(shifted, _LOG_FLOOR, out=shifted)
    if len(problem.gold_units):
        shifted[problem.gold_units] = -np.inf
        shifted[problem.gold_units, problem.gold_tags] = 0.0
    emissions = np.exp(shifted)
    smoothed = forward_backward(problem.chains, emissions, np.exp(params.log_transitions), np.exp(params.log_start))
    return Estep(
        posteriors=smoothed.posteriors,
        smoothed=smoothed,
        emissions=emissions,
        log_emissions=shifted,
        log_likelihood=float(np.log(smoothed.scale).sum() + shift.sum()),
    )


def _row_max(values: FloatArray) -> FloatArray:
    """Row maxima column by column (an axis=1 reduction over K entries per row is several times slower)."""
    top = values[:, 0].copy()
    for k in range(1, values.shape[1]):
        np.maximum(top, values[:, k], out=top)
    return top


def _log_evidence(problem: Problem, params: Parameters) -> FloatArray:
    """``log p(answers on unit u, its inner transitions | z_u = k)``, ``(units, K)``."""
    k, w = problem.n_states, problem.n_workers
    table = params.log_confusion.reshape(w * k * k, k)
    outside = np.asarray(problem.responses @ params.log_confusion[:, OUTSIDE, OUTSIDE, :])[problem.unit_task]
    first = np.asarray(problem.first_pairs @ table) + outside
    rest = np.asarray(problem.rest_pairs @ table) + problem.rest_length[:, None] * outside
    states = np.arange(k)
    # Inner transitions: k -> inner(k) once if the unit has 2+ positions, inner(k) -> inner(k) the rest.
    step_in = params.log_transitions[states, problem.inner]
    stay = params.log_transitions[problem.inner, problem.inner]
    once = np.minimum(problem.rest_length, 1.0)[:, None]
    again = np.maximum(problem.rest_length - 1.0, 0.0)[:, None]
    return first + rest[:, problem.inner] + once * step_in + again * stay


def expected_transitions(problem: Problem, params: Parameters, estep: Estep) -> tuple[FloatArray, FloatArray]:
    """Expected transition counts (between units and inside them) and first-state counts."""
    counts = transition_counts(problem.chains, estep.smoothed, estep.emissions, np.exp(params.log_transitions))
    posteriors = estep.posteriors
    states = np.arange(problem.n_states)
    once = np.minimum(problem.rest_length, 1.0) @ posteriors
    np.add.at(counts, (states, problem.inner), once)
    again = np.maximum(problem.rest_length - 1.0, 0.0) @ problem.to_inner(posteriors)
    counts[states, states] += again
    return counts, posteriors[problem.first_rows].sum(axis=0)


def log_prior_density(problem: Problem, params: Parameters) -> float:
    """The Dirichlet log densities (up to constants): with the log-likelihood, what MAP-EM never decreases."""
    confusion = np.einsum("wpok,ok->", params.log_confusion, problem.pseudo)
    transitions = _TRANSITION_PSEUDO * params.log_transitions[problem.allowed].sum()
    start = _TRANSITION_PSEUDO * params.log_start[problem.first].sum()
    return float(confusion + transitions + start)
