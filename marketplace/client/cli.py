"""`crowdmarket`: the client on the command line. Prints JSON (results: CSV or JSONL) on stdout; an API error is
one line on stderr and exit status 1.

    export CROWDMARKET_URL=http://127.0.0.1:8000 CROWDMARKET_API_KEY=AbCd1234.…
    crowdmarket jobs create --title Birds --schema '{"type": "single_choice", "classes": ["a", "b"]}' \\
        --reward-cents 10 --items-per-task 5
    crowdmarket jobs upload 7 items.csv && crowdmarket jobs upload 7 gold.csv --gold
    crowdmarket jobs launch 7 --deposit && crowdmarket jobs wait 7 --progress
    crowdmarket results 7 --format csv > labels.csv
"""

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from marketplace.client.client import Client
from marketplace.client.transport import ApiError


def main(argv: Sequence[str] | None = None, client: Client | None = None) -> int:
    args = _parser().parse_args(argv)
    client = client or Client(args.url, api_key=args.api_key)
    try:
        return args.run(client, args) or 0
    except ApiError as error:
        print(f"crowdmarket: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crowdmarket", description="The crowdmarket API from the command line.")
    parser.add_argument("--url", default=os.environ.get("CROWDMARKET_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--api-key", default=os.environ.get("CROWDMARKET_API_KEY"), help="or CROWDMARKET_API_KEY")
    commands = parser.add_subparsers(required=True, metavar="{jobs,results}")
    jobs = commands.add_parser("jobs", help="create, upload, launch, wait").add_subparsers(required=True)

    create = jobs.add_parser("create", help="a draft job")
    create.add_argument("--title", required=True)
    create.add_argument("--schema", required=True, type=json.loads, help="the label schema, as JSON")
    create.add_argument("--instructions", default="")
    create.add_argument("--item-schema", type=json.loads, default=None, help="the item schema, as JSON")
    create.add_argument("--reward-cents", type=int, required=True)
    create.add_argument("--currency", default="USD")
    create.add_argument("--items-per-task", type=int, default=10)
    create.add_argument("--overlap", type=int, default=3)
    create.add_argument("--gold-ratio", default=None)
    create.set_defaults(run=_create)

    for name, run, help_text in (
        ("get", lambda c, a: _print(c.job(a.job)), "a job"),
        ("cost", lambda c, a: _print(c.cost(a.job)), "what launching costs, and the shortfall to deposit"),
        ("progress", lambda c, a: _print(c.progress(a.job)), "tasks, items and answers so far"),
        ("cancel", lambda c, a: _print(c.cancel(a.job)), "cancel (the escrow left is refunded)"),
    ):
        command = jobs.add_parser(name, help=help_text)
        command.add_argument("job", type=int)
        command.set_defaults(run=run)

    listing = jobs.add_parser("list", help="your jobs")
    listing.add_argument("--status")
    listing.set_defaults(run=lambda c, a: _print(list(c.jobs(**({"status": a.status} if a.status else {})))))

    upload = jobs.add_parser("upload", help="items (or gold) from a CSV or JSONL file")
    upload.add_argument("job", type=int)
    upload.add_argument("file")
    upload.add_argument("--gold", action="store_true")
    upload.set_defaults(run=lambda c, a: _print(c.upload(a.job, a.file, kind="gold" if a.gold else "items")))

    launch = jobs.add_parser("launch", help="launch (--deposit: deposit the shortfall first)")
    launch.add_argument("job", type=int)
    launch.add_argument("--deposit", action="store_true")
    launch.set_defaults(run=_launch)

    wait = jobs.add_parser("wait", help="wait until the job is finished")
    wait.add_argument("job", type=int)
    wait.add_argument("--progress", action="store_true")
    wait.add_argument("--timeout", type=float, default=3600)
    wait.add_argument("--interval", type=float, default=5.0)
    wait.set_defaults(
        run=lambda c, a: _print(c.wait(a.job, timeout=a.timeout, interval=a.interval, progress=a.progress))
    )

    results = commands.add_parser("results", help="a job's results")
    results.add_argument("job", type=int)
    results.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    results.set_defaults(run=_results)
    return parser


def _create(client: Client, args: argparse.Namespace) -> None:
    fields: dict[str, Any] = {
        "title": args.title,
        "instructions": args.instructions,
        "label_schema": args.schema,
        "reward_cents": args.reward_cents,
        "currency": args.currency,
        "items_per_task": args.items_per_task,
        "overlap_min": args.overlap,
        "overlap_max": args.overlap,
    }
    if args.item_schema is not None:
        fields["item_schema"] = args.item_schema
    if args.gold_ratio is not None:
        fields["gold_ratio"] = args.gold_ratio
    _print(client.create_job(**fields))


def _launch(client: Client, args: argparse.Namespace) -> None:
    if args.deposit:
        client.deposit_shortfall(args.job)
    _print(client.launch(args.job))


def _wait(client: Client, args: argparse.Namespace) -> None:
    _print(client.wait(args.job, timeout=args.timeout, interval=args.interval, progress=args.progress))


def _results(client: Client, args: argparse.Namespace) -> None:
    if args.format == "csv":
        sys.stdout.write(client.export_csv(args.job))
    else:
        for row in client.results(args.job):
            print(json.dumps(row))


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2))


if __name__ == "__main__":
    sys.exit(main())
