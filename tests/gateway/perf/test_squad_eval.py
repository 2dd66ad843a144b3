"""The SQuAD evaluation's data loading, dataset versioning and Phoenix experiment wiring (fake client)."""

import json
from dataclasses import dataclass, field
from types import SimpleNamespace

import httpx
import pytest

from gateway.perf import squad_data
from gateway.perf.squad_data import Question, Questions, flatten, load_questions
from gateway.perf.squad_experiment import (
    dataset_name,
    ensure_dataset,
    exact_match,
    f1,
    make_task,
    mean_scores,
    prompt,
    run_alias,
)

DOC = {
    "version": "1.1",
    "licence": "test",
    "data": [
        {
            "title": "Rivers",
            "paragraphs": [
                {
                    "context": "The Danube flows into the Black Sea. It passes four capitals.",
                    "qas": [
                        {"id": "q1", "question": "Where does the Danube flow?", "answers": [
                            {"text": "the Black Sea", "answer_start": 22},
                            {"text": "Black Sea", "answer_start": 26},
                            {"text": "the Black Sea", "answer_start": 22},
                        ]},
                        {"id": "q2", "question": "How many capitals?", "answers": [
                            {"text": "four", "answer_start": 49},
                        ]},
                    ],
                }
            ],
        }
    ],
}  # fmt: skip


def _questions(*pairs, source="sample"):
    items = tuple(
        Question(id=f"q{i}", title="t", context=ctx, question=q, answers=(a,))
        for i, (ctx, q, a) in enumerate(pairs)
    )
    return Questions(items=items, source=source, licence="test", note="")


# ------------------------------------------------------------------ data
def test_flatten_keeps_file_order_and_drops_duplicate_gold_answers():
    questions = flatten(DOC)
    assert [q.id for q in questions] == ["q1", "q2"]
    assert questions[0].answers == ("the Black Sea", "Black Sea")
    assert questions[0].context.startswith("The Danube") and questions[0].title == "Rivers"


def test_without_a_download_the_shipped_sample_is_used_and_its_licence_reported(tmp_path):
    sample = tmp_path / "sample.json"
    sample.write_text(json.dumps(DOC))
    questions = load_questions(None, try_download=False, sample=sample)
    assert questions.source == "sample" and questions.licence == "test"
    assert len(questions.items) == 2
    assert "unavailable" in questions.note


def test_num_samples_takes_the_first_questions(tmp_path):
    sample = tmp_path / "sample.json"
    sample.write_text(json.dumps(DOC))
    assert [q.id for q in load_questions(1, try_download=False, sample=sample).items] == ["q1"]


def test_num_samples_below_one_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least 1"):
        load_questions(0, try_download=False)


def test_a_failed_download_falls_back_to_the_sample_with_the_reason(monkeypatch):
    monkeypatch.setattr(squad_data, "download_official", lambda: (None, "offline here"))
    questions = load_questions(3)
    assert questions.source == "sample" and len(questions.items) == 3
    assert "offline here" in questions.note


def test_a_downloaded_official_set_is_preferred(monkeypatch):
    monkeypatch.setattr(squad_data, "download_official", lambda: (DOC, ""))
    questions = load_questions(None)
    assert questions.source == "squad-v1.1-dev" and "CC BY-SA" in questions.licence


# ------------------------------------------------------------------ versioning
def test_the_dataset_name_is_stable_for_the_same_questions():
    a = _questions(("ctx", "q?", "a"), ("ctx2", "q2?", "b"))
    b = _questions(("ctx", "q?", "a"), ("ctx2", "q2?", "b"))
    assert dataset_name(a) == dataset_name(b)
    assert dataset_name(a).startswith("squad-sample-2q-")


@pytest.mark.parametrize(
    "changed",
    [
        (("ctx", "q?", "other answer"), ("ctx2", "q2?", "b")),
        (("ctx changed", "q?", "a"), ("ctx2", "q2?", "b")),
        (("ctx", "q?", "a"),),
    ],
)
def test_any_change_to_the_questions_gives_a_new_dataset_name(changed):
    assert dataset_name(_questions(("ctx", "q?", "a"), ("ctx2", "q2?", "b"))) != dataset_name(
        _questions(*changed)
    )


@dataclass
class FakeDatasets:
    existing: dict = field(default_factory=dict)
    created: list = field(default_factory=list)

    def get_dataset(self, *, dataset):
        if dataset not in self.existing:
            raise ValueError(f"Dataset not found: {dataset}")
        return self.existing[dataset]

    def create_dataset(self, **kwargs):
        self.created.append(kwargs)
        made = SimpleNamespace(id=f"ds{len(self.created)}", name=kwargs["name"], kwargs=kwargs)
        self.existing[kwargs["name"]] = made
        return made


def test_a_new_question_set_creates_its_dataset_with_inputs_outputs_and_licence():
    questions = _questions(("ctx", "q?", "a"))
    client = SimpleNamespace(datasets=FakeDatasets())
    dataset = ensure_dataset(client, questions, log=lambda _: None)
    (created,) = client.datasets.created
    assert created["name"] == dataset.name == dataset_name(questions)
    assert created["inputs"] == [{"id": "q0", "context": "ctx", "question": "q?"}]
    assert created["outputs"] == [{"answers": ["a"]}]
    assert "licence: test" in created["dataset_description"]


def test_an_existing_dataset_of_the_same_questions_is_reused_never_replaced():
    questions = _questions(("ctx", "q?", "a"))
    client = SimpleNamespace(datasets=FakeDatasets())
    first = ensure_dataset(client, questions, log=lambda _: None)
    second = ensure_dataset(client, questions, log=lambda _: None)
    assert second is first
    assert len(client.datasets.created) == 1


def test_a_missing_dataset_reported_as_http_404_is_created():
    request = httpx.Request("GET", "http://127.0.0.1/v1/datasets")
    not_found = httpx.HTTPStatusError("404", request=request, response=httpx.Response(404, request=request))

    class Datasets(FakeDatasets):
        def get_dataset(self, *, dataset):
            raise not_found

    client = SimpleNamespace(datasets=Datasets())
    ensure_dataset(client, _questions(("ctx", "q?", "a")), log=lambda _: None)
    assert len(client.datasets.created) == 1


# ------------------------------------------------------------------ task and evaluators
def test_the_prompt_is_context_then_question_on_its_own_line():
    assert prompt("Some text.", "What?") == "Context: Some text.\nQuestion: What?"


def test_the_task_asks_the_alias_with_the_example_prompt():
    asked = []
    task = make_task(lambda alias, text: asked.append((alias, text)) or "answer", "nova-lite")
    assert task({"context": "C.", "question": "Q?", "id": "x"}) == "answer"
    assert asked == [("nova-lite", "Context: C.\nQuestion: Q?")]


def test_evaluators_score_against_the_best_gold_answer_with_squad_normalisation():
    expected = {"answers": ["the Black Sea", "Black Sea"]}
    assert exact_match("Black sea.", expected) == 1.0
    assert f1("into the Black Sea quickly", expected) == pytest.approx(2 * (2 / 4) * 1 / (2 / 4 + 1))


def test_a_failed_call_scores_zero():
    assert exact_match(None, {"answers": ["x"]}) == 0.0 and f1(None, {"answers": ["x"]}) == 0.0


def test_mean_scores_count_missing_evaluations_as_zero_and_scale_to_100():
    runs = [
        SimpleNamespace(name="exact_match", result={"score": 1.0}),
        SimpleNamespace(name="f1", result={"score": 1.0}),
        SimpleNamespace(name="exact_match", result={"score": 0.0}),
        SimpleNamespace(name="f1", result={"score": 0.5}),
        SimpleNamespace(name="f1", result=None),
    ]
    means, scored = mean_scores(runs, examples=4)
    assert means == {"exact_match": 25.0, "f1": 37.5}
    assert scored == 2


class FakeExperiments:
    """Binds task and evaluator arguments by name, as Phoenix's run_experiment does."""

    def __init__(self, examples):
        self.examples = examples
        self.calls = []

    def run_experiment(self, *, dataset, task, evaluators, **kwargs):
        self.calls.append(kwargs)
        runs = []
        for example in self.examples:
            output = task(example["input"])
            for name, evaluator in evaluators.items():
                score = evaluator(output=output, expected=example["output"])
                runs.append(SimpleNamespace(name=name, result={"score": score}))
        return {"experiment_id": "exp1", "dataset_id": dataset.id, "evaluation_runs": runs}

    def get_experiment_url(self, dataset_id, experiment_id):
        return f"http://127.0.0.1:6006/datasets/{dataset_id}/compare?experimentId={experiment_id}"


def test_an_experiment_per_alias_scores_the_gateway_answers():
    examples = [
        {"input": {"context": "The Danube flows into the Black Sea.", "question": "Where?"},
         "output": {"answers": ["the Black Sea"]}},
        {"input": {"context": "It passes four capitals.", "question": "How many?"},
         "output": {"answers": ["four"]}},
    ]  # fmt: skip
    answers = {"Where?": "Black Sea", "How many?": "four capitals"}

    def ask(alias, text):
        return answers[text.rsplit("Question: ", 1)[1]]

    client = SimpleNamespace(experiments=FakeExperiments(examples))
    result = run_alias(client, SimpleNamespace(id="ds1"), "nova-pro", ask, examples=2, label="run1")
    assert result.alias == "nova-pro" and result.scored == 2
    assert result.exact_match == 50.0
    assert result.f1 == pytest.approx(100 * (1 + 2 / 3) / 2)
    assert result.url.endswith("datasets/ds1/compare?experimentId=exp1")
    assert client.experiments.calls[0]["experiment_name"] == "nova-pro run1"


def test_two_runs_over_the_shipped_sample_give_the_same_scores_per_model():
    """The emulator answers deterministically, so scores reproduce (model called without LiteLLM here)."""
    import secrets

    import boto3
    from botocore.config import Config

    from gateway.emulator.server import start_emulator
    from gateway.emulator.sigv4 import Credentials

    questions = load_questions(None, try_download=False)
    examples = [
        {"input": {"context": q.context, "question": q.question}, "output": {"answers": list(q.answers)}}
        for q in questions.items
    ]
    models = {"nova-pro": "us.amazon.nova-pro-v1:0", "nova-micro": "us.amazon.nova-micro-v1:0"}
    credentials = Credentials("AKIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))
    with start_emulator(credentials, region="us-east-1") as emulator:
        bedrock = boto3.client(
            "bedrock-runtime", region_name="us-east-1", endpoint_url=emulator.url,
            aws_access_key_id=credentials.access_key, aws_secret_access_key=credentials.secret_key,
            config=Config(retries={"max_attempts": 1}),
        )  # fmt: skip

        def ask(alias, text):
            reply = bedrock.converse(
                modelId=models[alias],
                system=[{"text": "Answer with a span of the text."}],
                messages=[{"role": "user", "content": [{"text": text}]}],
            )
            return reply["output"]["message"]["content"][0]["text"]

        def scores():
            client = SimpleNamespace(experiments=FakeExperiments(examples))
            dataset = SimpleNamespace(id="ds")
            return {
                alias: run_alias(client, dataset, alias, ask, examples=len(examples), label="r")
                for alias in models
            }

        first, second = scores(), scores()
    for alias in models:
        assert (first[alias].exact_match, first[alias].f1) == (second[alias].exact_match, second[alias].f1)
    assert first["nova-pro"].f1 > first["nova-micro"].f1 > 0
