"""The shipped SQuAD-format sample is well formed, so the evaluation can trust it."""

import json
from pathlib import Path

SAMPLE = Path(__file__).parents[3] / "gateway" / "perf" / "data" / "squad_sample.json"


def _questions():
    doc = json.loads(SAMPLE.read_text())
    for article in doc["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                yield paragraph["context"], qa


def test_sample_is_squad_v1_1_with_a_stated_licence():
    doc = json.loads(SAMPLE.read_text())
    assert doc["version"] == "1.1"
    assert "licence" in doc


def test_every_answer_offset_points_at_its_text():
    for context, qa in _questions():
        for answer in qa["answers"]:
            start = answer["answer_start"]
            assert context[start : start + len(answer["text"])] == answer["text"], qa["id"]


def test_question_ids_are_unique():
    ids = [qa["id"] for _, qa in _questions()]
    assert len(ids) == len(set(ids))


def test_sample_is_large_enough_for_the_default_num_samples():
    assert sum(1 for _ in _questions()) >= 40
