"""A model's score, used without trusting it: its predictions split by score into bands, each band an annotator.

A model's score (``0.93``) says how sure the model is, but on its own scale: softmax outputs are rarely calibrated,
and a score may not be a probability at all. So the score is never read as a weight. Instead, each model version's
predictions are cut at the quantiles of its own scores into up to :data:`MAX_BANDS` bands of about equal size, and
each band enters the aggregation as an annotator of its own, whose quality the engine learns from gold and from the
crowd like anyone's. A model whose confident predictions are right and whose doubtful ones are not earns a strong
top band and a weak bottom one, so an item where it is sure and one person agrees settles, and an item where it
hesitates asks for more people; a model whose score means nothing earns the same weight in every band, as if it
had no score.

Each band needs predictions enough for its quality to be learned: a model version gets one band per
:data:`PREDICTIONS_PER_BAND` scored predictions, at most :data:`MAX_BANDS`. Predictions without a score form one
annotator of their own. Equal scores always share a band (the cut falls between distinct scores), so a model that
gives every prediction one score has one band.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

MAX_BANDS = 4
PREDICTIONS_PER_BAND = 100
UNSCORED = -1


def band_count(scored: int) -> int:
    """How many bands ``scored`` predictions of one model version are cut into."""
    return max(1, min(MAX_BANDS, scored // PREDICTIONS_PER_BAND))


def score_bands(models: Sequence[str], scores: Sequence[float | None]) -> list[int]:
    """Each prediction's band within its model version: ``0`` the least sure up to at most ``band_count - 1`` the
    surest; :data:`UNSCORED` for a prediction without a (finite) score."""
    if len(models) != len(scores):
        raise ValueError("models and scores must have one length")
    values = np.array([s if s is not None and math.isfinite(s) else np.nan for s in scores], dtype=np.float64)
    bands = np.full(len(values), UNSCORED, dtype=np.int64)
    names = np.asarray(models, dtype=object)
    for name in dict.fromkeys(models):
        mine = np.flatnonzero((names == name) & ~np.isnan(values))
        if not mine.size:
            continue
        count = band_count(mine.size)
        edges = np.unique(np.quantile(values[mine], np.arange(1, count) / count))
        # numbered densely: where equal scores straddle a quantile, fewer bands than `count` are filled
        bands[mine] = np.unique(np.searchsorted(edges, values[mine], side="right"), return_inverse=True)[1]
    return bands.tolist()


def annotator_names(models: Sequence[str], scores: Sequence[float | None]) -> list[str]:
    """Each prediction's annotator: its model version, with its band when the version has more than one annotator
    (``"resnet50 (score band 2 of 4)"``, ``"resnet50 (no score)"``)."""
    bands = score_bands(models, scores)
    kinds: dict[str, set[int]] = {}
    for model, band in zip(models, bands, strict=True):
        kinds.setdefault(model, set()).add(band)
    names = []
    for model, band in zip(models, bands, strict=True):
        scored = len(kinds[model] - {UNSCORED})
        if len(kinds[model]) == 1:
            names.append(model)
        elif band == UNSCORED:
            names.append(f"{model} (no score)")
        else:
            names.append(f"{model} (score band {band + 1} of {scored})")
    return names


def parse_score(text: str) -> float | None:
    """A score as a file writes it: empty for none, else a number in [0, 1] (ValueError naming the problem)."""
    if not text.strip():
        return None
    try:
        score = float(text)
    except ValueError:
        raise ValueError(f"score {text[:40]!r} is not a number") from None
    if not 0.0 <= score <= 1.0:  # NaN fails too
        raise ValueError(f"score {text[:40]!r} is not between 0 and 1")
    return score
