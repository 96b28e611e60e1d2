"""The end-to-end demo, small: `manage.py simulate` drives a requester and a crowd through the HTTP API, in process.

Runs with real commits (`transaction=True`): quality control, aggregation and payouts run on commit, as in service.
"""

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

# 40 items in tasks of 4 with 4 hidden gold each (the demo's job), 20 dataset workers (one of them slow), 3 spammers
# and a swapper. Seeds 2 to 8 all complete the job with Dawid-Skene at or above majority vote; all but seed 5 keep
# every spammer out (seed 5: a random answerer's 32 gold answers, all the job has, are not enough to be sure).
SMALL = ["--items", "40", "--workers", "20", "--spammers", "3"]
TINY = ["--items", "16", "--workers", "8", "--spammers", "1"]

pytestmark = pytest.mark.django_db(transaction=True)


def simulate(tmp_path: Path, name: str, options: list[str], seed: int = 3) -> dict[str, Any]:
    figures = tmp_path / f"{name}.json"
    out = io.StringIO()
    call_command("simulate", *options, "--seed", str(seed), "--no-progress", "--json", str(figures), stdout=out)
    assert f"crowdmarket simulation, seed {seed}" in out.getvalue()
    return json.loads(figures.read_text())


def test_a_small_simulated_marketplace_keeps_spammers_out_beats_majority_vote_and_balances_the_ledger(tmp_path):
    report = simulate(tmp_path, "run", SMALL)

    assert report["job_status"] == "completed"
    assert report["ds_accuracy"] >= report["mv_accuracy"]
    assert report["spammers_kept_out"]
    assert any(name.startswith("spam") for name in report["blocked"])  # gold, not only the test, caught one
    assert report["ledger"] == {"USD": 0}
    assert report["ledger_balanced"] is True


def test_beside_the_bird_job_a_rating_job_is_worked_with_real_ratings_and_measured_against_the_experts(tmp_path):
    rating = simulate(tmp_path, "tiny", TINY)["rating"]

    # 20 headlines, their 10 real ratings each, through the number type's API, aggregation and export.
    assert (rating["type"], rating["job_status"]) == ("number", "completed")
    assert (rating["items"], rating["answers"]) == (20, 200)
    # Every answer of the sample is used, whatever the seed: bias + noise EM r 0.808, MAE 4.66; the plain mean r
    # 0.818, MAE 7.33 (the experts' mean as truth).
    assert rating["em"] == {"r": 0.808, "mae": 4.66}
    assert rating["mean"] == {"r": 0.818, "mae": 7.33}


def test_the_simulated_money_flows_add_up_from_the_requesters_side(tmp_path):
    report = simulate(tmp_path, "run", SMALL)
    money = report["money"]

    assert report["review"]["refused"] == []
    assert report["review"]["approved"] > 0 and report["review"]["rejected"] == 1
    assert report["dispute"] == {"decision": "overturn", "by": "admin", "status": "resolved"}
    assert report["slow_worker_expired"]
    assert money["available"] == money["deposited"] - money["escrowed"] + money["refunded"]
    assert money["escrowed"] == money["paid_for_work"] + money["refunded"] + money["in_escrow"]
    assert report["payouts"] > 0 and report["payouts_sent_cents"] > 0


def test_the_same_seed_gives_the_same_report(tmp_path):
    first, second = simulate(tmp_path, "first", TINY), simulate(tmp_path, "second", TINY)

    first.pop("seconds"), second.pop("seconds")
    assert first == second


def test_the_full_demo_keeps_every_spammer_out_and_blocks_no_more_than_one_good_worker(tmp_path):
    """Issue 16 item 7's target, on the demo's own job and crowd (all 70 items, 39 data set workers, 4 spammers).
    A seed takes over 30 s here, so one is run: seed 2, where the gold-only rule blocked two 74% workers.
    `make demo DEMO_ARGS="--seeds 1-5"` prints all five (seed 5 misses: a random answerer right on 16 of its 20
    gold answers is not told apart from a 70% worker)."""
    report = simulate(tmp_path, "full", [], seed=2)

    assert report["spammers_kept_out"], report["spammers"]
    assert len(report["good_blocked"]) <= 1, report["real_blocked"]
    assert any(name.startswith("spam") for name in report["blocked"])  # gold and real answers, not only the test
