"""SQuAD through Phoenix: one versioned dataset, one experiment per model alias, EM/F1 evaluators.

Phoenix replaces a dataset's examples when a dataset name is re-used, so the
name carries a hash of the questions: the same questions reuse their dataset,
different ones get a new name, and no earlier dataset is ever overwritten.
The Phoenix client is passed in, so the wiring is tested with a fake.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from gateway.perf.squad_data import Questions
from gateway.perf.squad_metric import score

SYSTEM_PROMPT = "Answer the question with the shortest span of the text that answers it, copied verbatim."
DATASET_PREFIX = "squad"
EVALUATORS = ("exact_match", "f1")

Ask = Callable[[str, str], str]  # (alias, user prompt) -> answer text


def dataset_name(questions: Questions) -> str:
    """`squad-<source>-<n>q-<hash>`: stable for the same questions, new for any change."""
    return f"{DATASET_PREFIX}-{questions.source}-{len(questions.items)}q-{questions.digest()[:12]}"


def prompt(context: str, question: str) -> str:
    """The reference design's format; the emulator answers extractively when it sees it."""
    return f"Context: {context}\nQuestion: {question}"


def ensure_dataset(client: Any, questions: Questions, log: Callable[[str], None] = print) -> Any:
    """The dataset for these questions: the existing one with this content-hashed name, else a new one."""
    name = dataset_name(questions)
    try:
        dataset = client.datasets.get_dataset(dataset=name)
    except (ValueError, httpx.HTTPStatusError):
        dataset = None
    if dataset is not None:
        log(f"dataset {name}: exists (same questions), reused")
        return dataset
    log(f"dataset {name}: creating with {len(questions.items)} examples")
    return client.datasets.create_dataset(
        name=name,
        inputs=[{"id": q.id, "context": q.context, "question": q.question} for q in questions.items],
        outputs=[{"answers": list(q.answers)} for q in questions.items],
        metadata=[{"title": q.title, "source": questions.source} for q in questions.items],
        dataset_description=f"SQuAD v1.1 format, {questions.source}; licence: {questions.licence}",
    )


def make_task(ask: Ask, alias: str) -> Callable[[Mapping[str, Any]], str]:
    def task(input: Mapping[str, Any]) -> str:  # Phoenix binds by this parameter name
        return ask(alias, prompt(input["context"], input["question"]))

    task.__name__ = f"ask_{alias.replace('-', '_')}"
    return task


def exact_match(output: str | None, expected: Mapping[str, Any]) -> float:
    """SQuAD exact match (0 or 1) against the best gold answer; a failed call scores 0."""
    return score(output or "", expected["answers"])["exact_match"]


def f1(output: str | None, expected: Mapping[str, Any]) -> float:
    """SQuAD token F1 (0-1) against the best gold answer; a failed call scores 0."""
    return score(output or "", expected["answers"])["f1"]


@dataclass(frozen=True)
class AliasScore:
    alias: str
    exact_match: float  # 0-100, as SQuAD reports
    f1: float
    examples: int
    scored: int  # evaluations Phoenix recorded per evaluator
    experiment_id: str
    url: str


def mean_scores(evaluation_runs: Sequence[Any], examples: int) -> tuple[dict[str, float], int]:
    """Mean of each evaluator over all examples (a missing evaluation counts 0), scaled to 0-100."""
    totals = dict.fromkeys(EVALUATORS, 0.0)
    counts = dict.fromkeys(EVALUATORS, 0)
    for run in evaluation_runs:
        name = getattr(run, "name", None)
        result = getattr(run, "result", None)
        if name in totals and isinstance(result, Mapping) and result.get("score") is not None:
            totals[name] += float(result["score"])
            counts[name] += 1
    means = {name: 100.0 * totals[name] / examples if examples else 0.0 for name in EVALUATORS}
    return means, min(counts.values())


def run_alias(client: Any, dataset: Any, alias: str, ask: Ask, *, examples: int, label: str) -> AliasScore:
    """One Phoenix experiment: ask every question through `alias`, score EM and F1."""
    ran = client.experiments.run_experiment(
        dataset=dataset,
        task=make_task(ask, alias),
        evaluators={"exact_match": exact_match, "f1": f1},
        experiment_name=f"{alias} {label}",
        experiment_description=f"SQuAD EM/F1 of gateway alias {alias}",
        experiment_metadata={"alias": alias, "run": label},
        print_summary=False,
    )
    means, scored = mean_scores(ran["evaluation_runs"], examples)
    url = client.experiments.get_experiment_url(
        dataset_id=ran["dataset_id"], experiment_id=ran["experiment_id"]
    )
    return AliasScore(
        alias=alias,
        exact_match=means["exact_match"],
        f1=means["f1"],
        examples=examples,
        scored=scored,
        experiment_id=str(ran["experiment_id"]),
        url=str(url),
    )


def gateway_asker(url: str, key: str, *, timeout: float = 60.0) -> tuple[Ask, httpx.Client]:
    """Ask the gateway's OpenAI-compatible chat API; temperature 0, short answers, one keep-alive client."""
    http = httpx.Client(base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {key}"}, timeout=timeout)

    def ask(alias: str, user_prompt: str) -> str:
        response = http.post(
            "/v1/chat/completions",
            json={
                "model": alias,
                "messages": [
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": user_prompt},
                ],
                "temperature": 0,
                "max_tokens": 64,
            },
        )
        response.raise_for_status()
        return response.json()["choices"][0]["message"]["content"] or ""

    return ask, http


def score_table(scores: Sequence[AliasScore]) -> str:
    header = f"{'alias':<14} {'EM':>6} {'F1':>6} {'scored':>8}  experiment"
    lines = [header, "-" * 60]
    for s in scores:
        lines.append(
            f"{s.alias:<14} {s.exact_match:>6.1f} {s.f1:>6.1f} {s.scored:>4}/{s.examples:<3}  {s.url}"
        )
    return "\n".join(lines)
