"""`python -m gateway.perf.squad` — SQuAD exact match / F1 per model alias, as Phoenix experiments.

    NUM_SAMPLES=20 python -m gateway.perf.squad [--num-samples N] [--models nova-pro,nova-lite]
                                                [--url URL --key KEY --phoenix-url URL]

Without --url it starts the local stack (its Phoenix receives the dataset and
the experiments) and stops it after. Against a deployed gateway give the Phoenix
to record in with --phoenix-url (and PHOENIX_API_KEY for Phoenix Cloud). Writes
reports/eval/scores.json and scores.png.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from gateway.devstack.target import add_target_arguments, gateway_target, strip_separator
from gateway.emulator.latency import INSTANT, add_latency_argument
from gateway.perf import charts
from gateway.perf.aliases import aliases
from gateway.perf.squad_data import load_questions
from gateway.perf.squad_experiment import dataset_name, ensure_dataset, gateway_asker, run_alias, score_table

REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / "reports" / "eval"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gateway.perf.squad", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--num-samples",
        type=int,
        default=_env_int("NUM_SAMPLES"),
        help="questions to ask (default $NUM_SAMPLES, else all)",
    )
    parser.add_argument(
        "--models", help="comma-separated aliases (default: every chat alias of the catalogue)"
    )
    parser.add_argument("--phoenix-url", help="the Phoenix to record in (default: the local stack's)")
    parser.add_argument("--offline", action="store_true", help="do not try to download the official set")
    parser.add_argument("--reports", type=Path, default=REPORTS, help="output folder (default reports/eval)")
    add_target_arguments(parser)
    add_latency_argument(parser, default=INSTANT)  # scores do not depend on timing
    return parser.parse_args(argv)


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else None


def chat_aliases(models: str | None) -> list[str]:
    if models:
        return [m.strip() for m in models.split(",") if m.strip()]
    return aliases("chat")


def phoenix_client(base_url: str):
    """The Phoenix client; its package is arize-phoenix-client (devtools group)."""
    try:
        from phoenix.client import Client
    except ImportError as error:
        raise SystemExit(
            "the Phoenix client is missing: pip install arize-phoenix-client (devtools group)"
        ) from error
    return Client(base_url=base_url)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(strip_separator(list(sys.argv[1:] if argv is None else argv)))
    models = chat_aliases(args.models)
    questions = load_questions(args.num_samples, try_download=not args.offline)
    print(
        f"questions: {len(questions.items)} from {questions.source} ({questions.note}); "
        f"licence: {questions.licence}"
    )
    if args.url and not args.phoenix_url:
        raise SystemExit("--url needs --phoenix-url: the Phoenix that records the dataset and experiments")
    with gateway_target(args.url, args.key, latency=args.latency) as target:
        phoenix_url = args.phoenix_url or target.stack.phoenix_url
        client = phoenix_client(phoenix_url)
        dataset = ensure_dataset(client, questions)
        ask, http = gateway_asker(target.url, target.key)
        label = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        scores = []
        try:
            for index, alias in enumerate(models, 1):
                started = time.monotonic()
                print(
                    f"[{index}/{len(models)}] experiment for {alias}: {len(questions.items)} questions",
                    flush=True,
                )
                result = run_alias(client, dataset, alias, ask, examples=len(questions.items), label=label)
                print(
                    f"[{index}/{len(models)}] {alias}: EM {result.exact_match:.1f}, F1 {result.f1:.1f} "
                    f"in {time.monotonic() - started:.0f} s",
                    flush=True,
                )
                scores.append(result)
        finally:
            http.close()
    print("\n" + score_table(scores))
    args.reports.mkdir(parents=True, exist_ok=True)
    report = {
        "dataset": dataset_name(questions),
        "source": questions.source,
        "licence": questions.licence,
        "note": questions.note,
        "questions": len(questions.items),
        "gateway": target.url,
        "phoenix": phoenix_url,
        "run": label,
        "scores": [asdict(s) for s in scores],
    }
    (args.reports / "scores.json").write_text(json.dumps(report, indent=2))
    chart = charts.eval_chart(
        {s.alias: {"exact_match": s.exact_match, "f1": s.f1} for s in scores},
        args.reports / "scores.png",
        title=f"SQuAD ({questions.source}, {len(questions.items)} questions)",
    )
    print(f"\nreport: {args.reports / 'scores.json'}")
    print(f"chart: {chart}" if chart else f"chart: {charts.MISSING}")
    incomplete = [s.alias for s in scores if s.scored < s.examples]
    if incomplete:
        print(f"WARNING: some questions were not scored for {', '.join(incomplete)} (failed calls count 0)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
