"""Free-text answers: the batched word alignment, and the worker-weighted consensus built on it."""

from __future__ import annotations

import numpy as np
import pytest

from marketplace.aggregation.alignment import Packed, align, distances
from marketplace.aggregation.errors import InvalidAnswersError
from marketplace.aggregation.text_consensus import TextAnswers, text_consensus, text_medoid


def _edit_distance(a: list[int], b: list[int]) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y))
        previous = current
    return previous[-1]


def _pack(sequences: list[list[int]]) -> Packed:
    offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(s) for s in sequences])
    return Packed(np.array([w for s in sequences for w in s], dtype=np.int64), offsets)


def _rebuild(alignment, p: int, reference: list[int]) -> tuple[list[int], int]:
    """The hypothesis spelled back from the alignment, and the alignment's cost."""
    aligned = alignment.aligned[alignment.reference_offsets[p] : alignment.reference_offsets[p + 1]]
    mine = alignment.inserted_pairs == p
    inserted: dict[int, list[tuple[int, int]]] = {}
    for gap, rank, token in zip(
        alignment.inserted_gaps[mine], alignment.inserted_ranks[mine], alignment.inserted_tokens[mine], strict=True
    ):
        inserted.setdefault(int(gap), []).append((int(rank), int(token)))
    words, cost = [], 0
    for gap in range(len(reference) + 1):
        for _, token in sorted(inserted.get(gap, [])):
            words.append(token)
            cost += 1
        if gap < len(reference):
            if aligned[gap] >= 0:
                words.append(int(aligned[gap]))
                cost += int(aligned[gap] != reference[gap])
            else:
                cost += 1
    return words, cost


@pytest.mark.parametrize(("lengths", "alphabet"), [((0, 12), 5), ((60, 90), 4), ((0, 140), 3)])
def test_the_alignment_is_an_optimal_edit_script_for_every_pair(lengths: tuple[int, int], alphabet: int) -> None:
    rng = np.random.default_rng(sum(lengths))
    hyps = [list(rng.integers(0, alphabet, rng.integers(*lengths))) for _ in range(300)]
    refs = [list(rng.integers(0, alphabet, rng.integers(*lengths))) for _ in range(300)]
    # Near copies too, where trimming the common prefix and suffix does most of the work.
    refs[:100] = [h[:3] + [alphabet] + h[3:] for h in hyps[:100]]
    index = np.arange(300)

    alignment = align(_pack(hyps), _pack(refs), index, index)

    expected = [_edit_distance(h, r) for h, r in zip(hyps, refs, strict=True)]
    assert alignment.distance.tolist() == expected
    assert distances(_pack(hyps), _pack(refs), index, index).tolist() == expected
    for p in range(300):
        words, cost = _rebuild(alignment, p, refs[p])
        assert words == hyps[p]
        assert cost == expected[p]


def _text(answers: list[tuple[int, int, str]], vocabulary: list[str]) -> TextAnswers:
    index = {word: code for code, word in enumerate(vocabulary)}
    packed = _pack([[index[w] for w in text.split()] for _, _, text in answers])
    return TextAnswers(
        tasks=np.array([t for t, _, _ in answers]),
        workers=np.array([w for _, w, _ in answers]),
        n_tasks=max(t for t, _, _ in answers) + 1,
        n_workers=max(w for _, w, _ in answers) + 1,
        tokens=packed.tokens,
        offsets=packed.offsets,
        n_vocabulary=len(vocabulary),
    )


def _words(result, task: int, vocabulary: list[str]) -> str:
    return " ".join(vocabulary[c] for c in result.tokens[result.offsets[task] : result.offsets[task + 1]])


VOCABULARY = sorted(["the", "cat", "sat", "on", "a", "mat", "hat", "dog", "big", "red", "ran"])


def test_the_consensus_fixes_what_each_answer_gets_wrong() -> None:
    # Every answer has one error, each in a different place: a substitution, a deletion, an insertion.
    answers = _text(
        [
            (0, 0, "the cat sat on a hat"),
            (0, 1, "the cat on a mat"),
            (0, 2, "the big cat sat on a mat"),
            (0, 3, "a cat sat on a mat"),
        ],
        VOCABULARY,
    )

    result = text_consensus(answers)
    medoid = text_medoid(answers)

    assert _words(result, 0, VOCABULARY) == "the cat sat on a mat"
    assert _words(medoid, 0, VOCABULARY) != "the cat sat on a mat"  # no single answer is right
    assert result.converged
    assert result.confidence[0] > 0.8


def test_reliable_workers_outvote_a_majority_of_careless_ones_after_em() -> None:
    # Workers 0 and 1 agree with each other on tasks 1..6; workers 2, 3 and 4 each garble two words there, each
    # different ones, so the majority never agrees on a wrong word.
    clean = ["the cat sat on a mat", "a big dog ran", "the red hat", "a cat ran", "the dog sat on a hat", "a red mat"]
    rows = [(t + 1, w, text) for t, text in enumerate(clean) for w in (0, 1)]
    for t, text in enumerate(clean):
        for w in (2, 3, 4):
            words = text.split()
            for k in (w, w + 3):
                words[(t + k) % len(words)] = VOCABULARY[(t + k + w) % len(VOCABULARY)] + "s"
            rows.append((t + 1, w, " ".join(words)))
    # Task 0: the reliable pair says "dog", the three careless workers agree on "cat".
    rows += [
        (0, 0, "the dog sat"),
        (0, 1, "the dog sat"),
        (0, 2, "the cat sat"),
        (0, 3, "the cat sat"),
        (0, 4, "the cat sat"),
    ]

    vocabulary = sorted(set(VOCABULARY) | {word for _, _, text in rows for word in text.split()})
    result = text_consensus(_text(rows, vocabulary))

    assert _words(result, 0, vocabulary) == "the dog sat"
    assert result.worker_reliability[:2].min() > result.worker_reliability[2:].max()


def test_a_gold_task_keeps_its_key_and_teaches_the_reliabilities() -> None:
    rows = [(0, 0, "the cat sat"), (0, 1, "the cat sat"), (0, 2, "a dog ran"), (1, 0, "a red hat"), (1, 2, "a red mat")]
    answers = _text(rows, VOCABULARY)

    result = text_consensus(answers, gold={0: [VOCABULARY.index(w) for w in ["the", "cat", "sat"]]})
    without_worker_0 = text_consensus(answers, exclude_workers=[0])

    assert _words(result, 0, VOCABULARY) == "the cat sat"
    assert result.confidence[0] == 1.0
    assert result.worker_reliability[0] > result.worker_reliability[2]
    assert _words(result, 1, VOCABULARY) == "a red hat"  # worker 0 proved reliable on the gold task
    assert _words(without_worker_0, 1, VOCABULARY) == "a red mat"
    assert without_worker_0.worker_answer_counts.tolist() == [0, 1, 2]


def test_a_task_nobody_answered_gets_an_empty_consensus_with_no_confidence() -> None:
    answers = TextAnswers(tasks=[1], workers=[0], n_tasks=2, n_workers=1, tokens=[0, 1], offsets=[0, 2], n_vocabulary=2)

    result = text_consensus(answers)

    assert result.offsets.tolist() == [0, 0, 2]
    assert result.confidence[0] == 0.0


def test_malformed_text_answers_are_refused() -> None:
    with pytest.raises(InvalidAnswersError, match="offsets"):
        TextAnswers(tasks=[0], workers=[0], n_tasks=1, n_workers=1, tokens=[0, 1], offsets=[0, 1], n_vocabulary=2)
    with pytest.raises(InvalidAnswersError, match="tokens"):
        TextAnswers(tasks=[0], workers=[0], n_tasks=1, n_workers=1, tokens=[0, 5], offsets=[0, 2], n_vocabulary=2)
    with pytest.raises(InvalidAnswersError, match="twice"):
        TextAnswers(
            tasks=[0, 0], workers=[0, 0], n_tasks=1, n_workers=1, tokens=[0, 1], offsets=[0, 1, 2], n_vocabulary=2
        )


# Five tasks where workers 0, 1 and 2 all write the same text: they are equally reliable.
AGREED = [
    (t, w, text)
    for t, text in enumerate(["a big dog ran", "the red hat", "a cat ran", "a red mat", "the dog sat"], 1)
    for w in (0, 1, 2)
]


def _disputed(rows: list[tuple[int, int, str]]) -> float:
    return float(text_consensus(_text(rows + AGREED, VOCABULARY)).confidence[0])


def test_two_equally_reliable_workers_who_disagree_completely_leave_the_task_in_doubt() -> None:
    confidence = _disputed([(0, 0, "the cat sat on a mat"), (0, 1, "big dog ran red hat a")])

    assert 0.3 < confidence < 0.6  # either could be right, and maybe neither


def test_two_workers_who_agree_make_the_task_sure() -> None:
    assert _disputed([(0, 0, "the cat sat on a mat"), (0, 1, "the cat sat on a mat")]) > 0.98


def test_a_third_answer_that_sides_with_one_of_two_raises_the_confidence_but_not_to_full_agreement() -> None:
    split = _disputed([(0, 0, "the cat sat on a mat"), (0, 1, "big dog ran red hat a")])
    two_to_one = _disputed(
        [(0, 0, "the cat sat on a mat"), (0, 1, "big dog ran red hat a"), (0, 2, "the cat sat on a mat")]
    )
    agreed = _disputed([(0, 0, "the cat sat on a mat"), (0, 2, "the cat sat on a mat")])

    assert split + 0.3 < two_to_one < agreed


def test_a_lone_answer_is_as_sure_as_its_worker_is_reliable() -> None:
    result = text_consensus(_text([(0, 0, "the cat sat on a mat")] + AGREED, VOCABULARY))

    assert result.confidence[0] < 0.99
    assert result.confidence[0] == pytest.approx(result.worker_reliability[0], abs=0.05)
