"""The simulated crowd: real answers from the bluebirds data set mapped onto simulated workers, plus synthetic ones.

Each dataset worker labelled all 108 images, so a simulated worker mapped to one answers any item it is shown with
that person's real answer for the image (the payload carries the image id, as the real worker saw the image). Their
kind (good, noisy, class-biased) is read off their real accuracy. Synthetic workers add what a marketplace also
meets: spammers (uniform random answers, or always the first class) and a swapper who misread the instructions.
Every answer is a pure function of the seed, the worker and the image: the same seed gives the same crowd.
"""

import csv
import random
from dataclasses import dataclass, field
from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent
CLASSES = ("0", "1")


@dataclass(frozen=True)
class Dataset:
    truth: dict[str, str]  # image id -> true class
    answers: dict[str, dict[str, str]]  # dataset worker -> image id -> answered class

    def accuracy(self, worker: str) -> float:
        given = self.answers[worker]
        return sum(given[image] == self.truth[image] for image in given) / len(given)

    def class_recall(self, worker: str, label: str) -> float:
        given = self.answers[worker]
        of_class = [image for image in given if self.truth[image] == label]
        return sum(given[image] == label for image in of_class) / len(of_class)


def load_bluebirds() -> Dataset:
    with (DEMO_DIR / "bluebirds_truth.csv").open() as fh:
        truth = {row["task"]: row["label"] for row in csv.DictReader(fh)}
    answers: dict[str, dict[str, str]] = {}
    with (DEMO_DIR / "bluebirds_answers.csv").open() as fh:
        for row in csv.DictReader(fh):
            answers.setdefault(row["worker"], {})[row["task"]] = row["label"]
    return Dataset(truth=truth, answers=answers)


@dataclass
class SimWorker:
    """One simulated worker: how it answers, and what happened to it during the run."""

    name: str
    kind: str  # good | noisy | class-biased | swapper | spammer | slow
    seed: int
    dataset: Dataset
    source: str = ""  # the dataset worker whose real answers it gives
    policy: str = "dataset"  # dataset | swap | random | constant
    pace: int = 1  # assignments per round: spammers are quick, that is the point of spamming
    # Filled in as the run goes.
    user_id: int = 0
    qualified: bool | None = None
    test_score: float | None = None
    blocked: bool = False
    expired: int = 0
    answered: dict[str, str] = field(default_factory=dict)

    def answer(self, image: str) -> str:
        if self.policy == "dataset":
            return self.dataset.answers[self.source][image]
        if self.policy == "constant":
            return CLASSES[0]
        draw = random.Random(f"{self.seed}:{self.name}:{image}")  # noqa: S311 -- a simulation, not security
        if self.policy == "swap":  # misread the instructions: the other class, but for a 10% of slips
            right = self.dataset.truth[image]
            return right if draw.random() < 0.1 else next(c for c in CLASSES if c != right)
        return draw.choice(CLASSES)


@dataclass
class Split:
    """The images of the data set: test questions, gold items and real items (all disjoint)."""

    questions: list[str]
    gold: list[str]
    items: list[str]


def split_images(dataset: Dataset, *, questions: int, gold: int, items: int | None, rng: random.Random) -> Split:
    """Hold out test questions and gold items, balanced over the classes; the job's items are drawn from the rest."""
    by_class = {label: sorted(i for i, t in dataset.truth.items() if t == label) for label in CLASSES}
    for images in by_class.values():
        rng.shuffle(images)

    def take(n: int) -> list[str]:
        picked = [by_class[CLASSES[i % len(CLASSES)]].pop() for i in range(n)]
        rng.shuffle(picked)
        return picked

    held_out = Split(questions=take(questions), gold=take(gold), items=[])
    rest = sorted(image for images in by_class.values() for image in images)
    rng.shuffle(rest)
    held_out.items = rest[:items] if items else rest
    return held_out


def dataset_kind(dataset: Dataset, worker: str) -> str:
    """good: >= 80% right; class-biased: sees one class well and mostly misses the other (or is worse than chance);
    noisy: the rest."""
    accuracy = dataset.accuracy(worker)
    recalls = sorted(dataset.class_recall(worker, label) for label in CLASSES)
    if accuracy >= 0.8:
        return "good"
    if accuracy < 0.5 or recalls[0] <= 0.35:
        return "class-biased"
    return "noisy"


def build_crowd(dataset: Dataset, *, n_dataset: int, n_spammers: int, n_swappers: int, seed: int) -> list[SimWorker]:
    """`n_dataset` dataset workers spread evenly over the range of real accuracies (so a small crowd keeps the
    mix), the most accurate one cast as the slow worker, plus synthetic spammers (every third answers the first
    class every time, the others at random) and swappers."""
    ranked = sorted(dataset.answers, key=lambda w: (-dataset.accuracy(w), w))
    n_dataset = max(1, min(n_dataset, len(ranked)))
    if n_dataset == 1:
        picked = ranked[:1]
    else:
        picked = [ranked[round(i * (len(ranked) - 1) / (n_dataset - 1))] for i in range(n_dataset)]
    crowd = [
        SimWorker(name=f"w{source}", kind=dataset_kind(dataset, source), seed=seed, dataset=dataset, source=source)
        for source in picked
    ]
    crowd[0].kind = "slow"  # a good worker who wanders off once, then comes back
    crowd += [
        SimWorker(
            name=f"spam{i + 1}",
            kind="spammer",
            seed=seed,
            dataset=dataset,
            policy="constant" if i % 3 == 2 else "random",
            pace=2,
        )
        for i in range(n_spammers)
    ]
    crowd += [
        SimWorker(name=f"swap{i + 1}", kind="swapper", seed=seed, dataset=dataset, policy="swap")
        for i in range(n_swappers)
    ]
    return crowd
