"""SQuAD v1.1 scoring: exact match and token F1, as the official evaluation script defines them.

Implemented here because the `evaluate` hub metric cannot be downloaded offline;
the normalisation must match the official one exactly or scores are not comparable
with published numbers.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation, drop the articles a/an/the, collapse white space (in that order)."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, ground_truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(ground_truth))


def f1(prediction: str, ground_truth: str) -> float:
    """Harmonic mean of token precision and recall over normalised tokens (bag of words)."""
    predicted = normalize_answer(prediction).split()
    truth = normalize_answer(ground_truth).split()
    common = Counter(predicted) & Counter(truth)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(predicted)
    recall = overlap / len(truth)
    return 2 * precision * recall / (precision + recall)


def best_over_answers(metric, prediction: str, ground_truths: Iterable[str]) -> float:
    """SQuAD scores a prediction against its best-matching gold answer."""
    scores = [metric(prediction, truth) for truth in ground_truths]
    if not scores:
        raise ValueError("a SQuAD question needs at least one gold answer")
    return max(scores)


def score(prediction: str, ground_truths: Iterable[str]) -> dict[str, float]:
    truths = list(ground_truths)
    return {
        "exact_match": best_over_answers(exact_match, prediction, truths),
        "f1": best_over_answers(f1, prediction, truths),
    }
