"""Forward-backward and Viterbi over many short chains at once, laid out position-major.

A job holds many texts of different lengths. Sorting them by length, longest first, and storing every text's
unit ``p`` at ``bounds[p] + rank`` makes the units at position ``p`` one contiguous block whose first ``n_p``
rows continue at position ``p + 1``: each step of the recursions is then one small ``(n_p, K) @ (K, K)``
product on slices, with no Python loop over texts and no fancy indexing. The cost is ``O(units × K²)`` and the
number of Python steps is the longest text's length.

Emissions come in scaled form (``E = exp(log evidence − row max)``), and the recursions normalise every step
(Rabiner's scaling), so nothing underflows: ``α̂`` rows sum to one, ``c`` are the scaling factors and
``Σ log c`` (plus the row maxima) is the log-likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from marketplace.aggregation.inputs import FloatArray

IndexArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Chains:
    """The position-major layout of chains (texts) of ``lengths`` units.

    ``index[u]`` is the position-major row of unit ``u`` (units numbered chain by chain, in chain order);
    ``bounds[p]`` the first row of position ``p``; ``active[p]`` how many chains have a unit at ``p``.
    """

    index: IndexArray
    bounds: IndexArray
    active: IndexArray

    @classmethod
    def build(cls, lengths: npt.ArrayLike) -> Chains:
        sizes = np.asarray(lengths, dtype=np.int64)
        longest = int(sizes.max(initial=0))
        rank = np.empty(len(sizes), dtype=np.int64)
        rank[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
        # active[p] = number of chains longer than p: a histogram of lengths, accumulated from the top.
        active = np.cumsum(np.bincount(sizes, minlength=longest + 1)[::-1])[::-1][1:]
        bounds = np.zeros(longest + 1, dtype=np.int64)
        np.cumsum(active, out=bounds[1:])
        chain = np.repeat(np.arange(len(sizes)), sizes)
        starts = np.cumsum(sizes) - sizes
        position = np.arange(int(sizes.sum())) - starts[chain]
        return cls(index=bounds[position] + rank[chain], bounds=bounds, active=active.astype(np.int64))

    @property
    def n_units(self) -> int:
        return len(self.index)

    @property
    def longest(self) -> int:
        return len(self.active)

    def rows(self, position: int, count: int | None = None) -> slice:
        """The rows of position ``position``, or of its first ``count`` chains."""
        start = int(self.bounds[position])
        return slice(start, start + int(self.active[position] if count is None else count))


@dataclass(frozen=True, eq=False)
class Smoothed:
    """Forward-backward output, position-major: ``α̂``, ``β̂``, scaling factors ``c`` and posteriors."""

    alpha: FloatArray
    beta: FloatArray
    scale: FloatArray
    posteriors: FloatArray


def forward_backward(chains: Chains, emissions: FloatArray, transitions: FloatArray, start: FloatArray) -> Smoothed:
    """Posteriors of every unit's state given its whole chain (emissions are position-major, scaled)."""
    alpha = np.empty_like(emissions)
    scale = np.ones(chains.n_units)
    if chains.longest == 0:
        return Smoothed(alpha=alpha, beta=alpha.copy(), scale=scale, posteriors=alpha.copy())
    previous = chains.rows(0)
    _normalise_into(start[None, :] * emissions[previous], alpha, scale, previous)
    for p in range(1, chains.longest):
        rows = chains.rows(p)
        carried = chains.rows(p - 1, rows.stop - rows.start)
        _normalise_into((alpha[carried] @ transitions) * emissions[rows], alpha, scale, rows)
    beta = np.ones_like(emissions)
    for p in range(chains.longest - 2, -1, -1):
        later = chains.rows(p + 1)
        rows = chains.rows(p, later.stop - later.start)
        beta[rows] = ((emissions[later] * beta[later]) / scale[later, None]) @ transitions.T
    # With this scaling, α̂_u · β̂_u is already P(z_u | answers): each row sums to one.
    return Smoothed(alpha=alpha, beta=beta, scale=scale, posteriors=alpha * beta)


def _normalise_into(block: FloatArray, alpha: FloatArray, scale: FloatArray, rows: slice) -> None:
    # A product with a vector of ones: NumPy's axis=1 sum over rows of only K entries is several times slower.
    totals = block @ np.ones(block.shape[1])
    scale[rows] = totals
    np.divide(block, totals[:, None], out=alpha[rows])


def transition_counts(chains: Chains, smoothed: Smoothed, emissions: FloatArray, transitions: FloatArray) -> FloatArray:
    """Expected number of ``i → j`` transitions, ``Σ_u P(z_u = i, z_{u+1} = j | answers)``."""
    counts = np.zeros_like(transitions)
    for p in range(chains.longest - 1):
        later = chains.rows(p + 1)
        rows = chains.rows(p, later.stop - later.start)
        weighted = emissions[later] * smoothed.beta[later] / smoothed.scale[later, None]
        counts += smoothed.alpha[rows].T @ weighted
    counts *= transitions
    return counts


def viterbi(
    chains: Chains, log_emissions: FloatArray, log_transitions: FloatArray, log_start: FloatArray
) -> tuple[IndexArray, FloatArray]:
    """The most probable state of every unit (position-major) and the best path's log score of each chain,
    by rank (longest chain first)."""
    n_states = log_transitions.shape[0]
    if chains.longest == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    pointers = np.zeros((chains.n_units, n_states), dtype=np.int8 if n_states < 128 else np.int16)
    first = chains.rows(0)
    score = log_start[None, :] + log_emissions[first]
    finals = np.empty_like(score)
    scores = [score]
    for p in range(1, chains.longest):
        rows = chains.rows(p)
        n = rows.stop - rows.start
        candidates = score[:n, :, None] + log_transitions[None, :, :]
        pointers[rows] = candidates.argmax(axis=1)
        score = candidates.max(axis=1) + log_emissions[rows]
        scores.append(score)
    for p, block in enumerate(scores):
        # Chains that end at position p keep their final scores there.
        ended = slice(int(chains.active[p + 1]) if p + 1 < chains.longest else 0, len(block))
        finals[ended] = block[ended]
    path = np.empty(chains.n_units, dtype=np.int64)
    state = finals.argmax(axis=1)
    best = finals.max(axis=1)
    for p in range(chains.longest - 1, -1, -1):
        rows = chains.rows(p)
        n = rows.stop - rows.start
        path[rows] = state[:n]
        if p:
            state[:n] = pointers[rows][np.arange(n), state[:n]]
    return path, best
