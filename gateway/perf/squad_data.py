"""SQuAD v1.1 questions: the official validation set when it downloads, else the shipped sample.

The official set is tried briefly (a short timeout, never a retry loop): offline
runs must fall back at once rather than hang. The sample
(data/squad_sample.json) is in the same format and states its own licence.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path

OFFICIAL_URL = "https://rajpurkar.github.io/SQuAD-explorer/dataset/dev-v1.1.json"
OFFICIAL_LICENCE = "CC BY-SA 4.0 (SQuAD v1.1, Rajpurkar et al. 2016)"
SAMPLE = Path(__file__).with_name("data") / "squad_sample.json"
DOWNLOAD_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Question:
    id: str
    title: str
    context: str
    question: str
    answers: tuple[str, ...]


@dataclass(frozen=True)
class Questions:
    """The questions to ask and where they came from (named in the dataset and the report)."""

    items: tuple[Question, ...]
    source: str  # "squad-v1.1-dev" or "sample"
    licence: str
    note: str  # why this source, in one line

    def digest(self) -> str:
        """Content hash: the same questions always give the same Phoenix dataset name."""
        canonical = json.dumps(
            [[q.id, q.context, q.question, list(q.answers)] for q in self.items], ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def flatten(document: dict) -> list[Question]:
    """The SQuAD JSON tree (data → paragraphs → qas) as a flat list, in file order."""
    out = []
    for article in document["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                out.append(
                    Question(
                        id=qa["id"],
                        title=article.get("title", ""),
                        context=paragraph["context"],
                        question=qa["question"],
                        answers=answers,
                    )
                )
    return out


def download_official(timeout: float = DOWNLOAD_TIMEOUT_S) -> tuple[dict | None, str]:
    """(document, "") or (None, why not). Tries Hugging Face `datasets` only when it is installed."""
    if importlib.util.find_spec("datasets") is not None:
        try:
            import datasets  # type: ignore[import-not-found]

            rows = datasets.load_dataset("squad", split="validation")
            document = {"version": "1.1", "data": _from_hf_rows(rows)}
            return document, ""
        except Exception as error:  # any failure means: use the next source
            hf_reason = f"datasets.load_dataset('squad') failed ({type(error).__name__})"
    else:
        hf_reason = "`datasets` is not installed"
    try:
        with urllib.request.urlopen(OFFICIAL_URL, timeout=timeout) as response:  # fixed https URL
            return json.load(response), ""
    except Exception as error:  # offline: DNS, proxy refusal, timeout
        return None, f"{hf_reason}; {OFFICIAL_URL} unreachable ({type(error).__name__}: {error})"[:300]


def _from_hf_rows(rows) -> list[dict]:
    articles: dict[str, dict[str, list]] = {}
    for row in rows:
        paragraphs = articles.setdefault(row["title"], {})
        paragraphs.setdefault(row["context"], []).append(
            {
                "id": row["id"],
                "question": row["question"],
                "answers": [{"text": t} for t in row["answers"]["text"]],
            }
        )
    return [
        {"title": title, "paragraphs": [{"context": c, "qas": qas} for c, qas in paragraphs.items()]}
        for title, paragraphs in articles.items()
    ]


def load_questions(num_samples: int | None, *, try_download: bool = True, sample: Path = SAMPLE) -> Questions:
    """The first `num_samples` questions (all when None) of the best available source."""
    document, reason = download_official() if try_download else (None, "download not attempted")
    if document is not None:
        source, licence, note = "squad-v1.1-dev", OFFICIAL_LICENCE, "official SQuAD v1.1 validation set"
    else:
        document = json.loads(sample.read_text())
        source, licence = "sample", document.get("licence", "unstated")
        note = f"official set unavailable ({reason}): using the shipped sample {sample.name}"
    items = flatten(document)
    if num_samples is not None:
        if num_samples < 1:
            raise ValueError("num_samples must be at least 1")
        items = items[:num_samples]
    return Questions(items=tuple(items), source=source, licence=licence, note=note)
