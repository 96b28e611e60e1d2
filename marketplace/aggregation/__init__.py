"""Pure aggregation engine: integer-coded answers in, frozen dataclasses of NumPy arrays out.

Stdlib, NumPy and SciPy only (an import-linter contract forbids Django and the project's apps here):
``marketplace.services`` adapts ORM rows to :class:`Answers` and stores the results.

    answers = Answers(tasks=t, workers=w, labels=l, n_tasks=T, n_workers=W, n_classes=K)
    result = dawid_skene(answers, gold={3: 1}, exclude_workers=[7])
    result.labels, result.confidence, result.confusions, result.worker_accuracy

``python -m marketplace.aggregation ANSWERS.csv --method ds --out LABELS.csv`` runs it on a CSV file.
"""

from marketplace.aggregation.adaptive import initial_overlap_targets, overlap_targets, settled_items
from marketplace.aggregation.em import DirichletPrior, dawid_skene, dawid_skene_posteriors, one_coin_dawid_skene
from marketplace.aggregation.encoding import Codebook, encode_answers, encode_keys
from marketplace.aggregation.errors import (
    AggregationError,
    InvalidAnswersError,
    InvalidGoldError,
    InvalidOptionError,
)
from marketplace.aggregation.inputs import Answers, Gold, GoldInput, parse_gold
from marketplace.aggregation.majority import majority_vote
from marketplace.aggregation.results import DawidSkeneResult, MajorityVoteResult

__all__ = [
    "AggregationError",
    "Answers",
    "Codebook",
    "DawidSkeneResult",
    "DirichletPrior",
    "Gold",
    "GoldInput",
    "InvalidAnswersError",
    "InvalidGoldError",
    "InvalidOptionError",
    "MajorityVoteResult",
    "dawid_skene",
    "dawid_skene_posteriors",
    "encode_answers",
    "encode_keys",
    "initial_overlap_targets",
    "majority_vote",
    "one_coin_dawid_skene",
    "overlap_targets",
    "parse_gold",
    "settled_items",
]
