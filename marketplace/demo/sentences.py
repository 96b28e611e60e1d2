"""Sentences for the demo's spans job (`seed_demo`): who and where, written for the demo (no source to cite).

Each is a sentence and the names in it with their label; `spans` turns them into the job's answer encoding,
half-open character offsets `[start, end, label]`.
"""

from typing import Any

LABELS = ("PER", "LOC")
SENTENCES: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Ada Lovelace wrote to Charles Babbage from London.",
        [("Ada Lovelace", "PER"), ("Charles Babbage", "PER"), ("London", "LOC")],
    ),
    ("Marie Curie moved from Warsaw to Paris.", [("Marie Curie", "PER"), ("Warsaw", "LOC"), ("Paris", "LOC")]),
    ("The train from Lyon was late again.", [("Lyon", "LOC")]),
    ("Grace Hopper found a moth in the relay.", [("Grace Hopper", "PER")]),
    ("Nobody came to the meeting on Tuesday.", []),
    ("Alan Turing ran along the river near Cambridge.", [("Alan Turing", "PER"), ("Cambridge", "LOC")]),
    (
        "Emmy Noether taught in Göttingen before Bryn Mawr.",
        [("Emmy Noether", "PER"), ("Göttingen", "LOC"), ("Bryn Mawr", "LOC")],
    ),
    ("Oslo and Bergen are both wet in November.", [("Oslo", "LOC"), ("Bergen", "LOC")]),
    ("Katherine Johnson checked the numbers by hand.", [("Katherine Johnson", "PER")]),
    ("The bakery on the corner sells rye bread.", []),
    (
        "Srinivasa Ramanujan sailed from Madras to England.",
        [("Srinivasa Ramanujan", "PER"), ("Madras", "LOC"), ("England", "LOC")],
    ),
    ("Hedy Lamarr lived in Vienna as a child.", [("Hedy Lamarr", "PER"), ("Vienna", "LOC")]),
    # Gold: the keys the workers are graded on.
    ("Rosalind Franklin worked in London.", [("Rosalind Franklin", "PER"), ("London", "LOC")]),
    ("Kyoto is quiet in the early morning.", [("Kyoto", "LOC")]),
    ("Tim Berners-Lee wrote the first web server.", [("Tim Berners-Lee", "PER")]),
    ("We walked from Lisbon to Sintra with Ana Lima.", [("Lisbon", "LOC"), ("Sintra", "LOC"), ("Ana Lima", "PER")]),
]
N_GOLD = 4


def spans(text: str, names: list[tuple[str, str]]) -> list[list[Any]]:
    """The names as spans of `text` (each name's first occurrence), sorted by start."""
    return sorted([text.index(name), text.index(name) + len(name), label] for name, label in names)
