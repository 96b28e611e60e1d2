"""Pure aggregation engine: integer-coded answers in, frozen dataclasses of NumPy arrays out.

Stdlib, NumPy and SciPy only (an import-linter contract forbids Django and the project's apps here):
``marketplace.services`` adapts ORM rows to :class:`Answers` and stores the results.

    answers = Answers(tasks=t, workers=w, labels=l, n_tasks=T, n_workers=W, n_classes=K)
    result = dawid_skene(answers, gold={3: 1}, exclude_workers=[7])
    result.labels, result.confidence, result.confusions, result.worker_accuracy

The other answer types have an engine module each, same style (validated integer arrays in, a frozen dataclass
out, gold clamped, excluded workers left out): :func:`multi_label_ds`, :func:`text_consensus`, :func:`bias_noise_em`,
:func:`crowd_bradley_terry`, with their baselines. :data:`ANSWER_TYPES` wraps each in a type (schema, answer check,
gold grading, aggregation from keys and values).

``python -m marketplace.aggregation ANSWERS.csv --type TYPE --out OUT.csv`` runs any of them on a CSV file.
"""

from marketplace.aggregation.adaptive import initial_overlap_targets, overlap_targets, settled_items
from marketplace.aggregation.binary_relevance import (
    MultiLabelAnswers,
    MultiLabelResult,
    multi_label_ds,
    per_class_majority,
)
from marketplace.aggregation.bradley_terry import PairwiseAnswers, PairwiseResult, bradley_terry, crowd_bradley_terry
from marketplace.aggregation.em import (
    DirichletPrior,
    class_one_coin_dawid_skene,
    dawid_skene,
    dawid_skene_posteriors,
    one_coin_dawid_skene,
)
from marketplace.aggregation.encoding import Codebook, encode_answers, encode_keys
from marketplace.aggregation.errors import (
    AggregationError,
    InvalidAnswerError,
    InvalidAnswersError,
    InvalidGoldError,
    InvalidOptionError,
    InvalidSchemaError,
)
from marketplace.aggregation.inputs import Answers, Gold, GoldInput, parse_gold
from marketplace.aggregation.majority import majority_vote
from marketplace.aggregation.numeric import NumericAnswers, NumericResult, bias_noise_em, numeric_mean, numeric_median
from marketplace.aggregation.results import DawidSkeneResult, MajorityVoteResult
from marketplace.aggregation.text_consensus import TextAnswers, TextResult, text_consensus, text_medoid
from marketplace.aggregation.types import ANSWER_TYPES, AnswerType, Consensus, Grade, answer_type

__all__ = [
    "ANSWER_TYPES",
    "AggregationError",
    "AnswerType",
    "Answers",
    "Codebook",
    "Consensus",
    "DawidSkeneResult",
    "DirichletPrior",
    "Gold",
    "GoldInput",
    "Grade",
    "InvalidAnswerError",
    "InvalidAnswersError",
    "InvalidGoldError",
    "InvalidOptionError",
    "InvalidSchemaError",
    "MajorityVoteResult",
    "MultiLabelAnswers",
    "MultiLabelResult",
    "NumericAnswers",
    "NumericResult",
    "PairwiseAnswers",
    "PairwiseResult",
    "TextAnswers",
    "TextResult",
    "answer_type",
    "bias_noise_em",
    "bradley_terry",
    "crowd_bradley_terry",
    "class_one_coin_dawid_skene",
    "dawid_skene",
    "dawid_skene_posteriors",
    "encode_answers",
    "encode_keys",
    "initial_overlap_targets",
    "majority_vote",
    "multi_label_ds",
    "numeric_mean",
    "numeric_median",
    "one_coin_dawid_skene",
    "overlap_targets",
    "parse_gold",
    "per_class_majority",
    "settled_items",
    "text_consensus",
    "text_medoid",
]
