"""Deterministic answers: a pure function of the model and the prompt.

Four behaviours, in priority order (README.md documents them for the tests
that assert on them):
1. SQuAD-style prompts ("Context: ..." and a "Question: ..." line) get an
   extractive answer whose quality depends on the model's tier, so an
   evaluation scores models differently and reproducibly.
2. A prompt asking for "contact details" gets an e-mail address and a phone
   number, so the output guardrail has something to anonymize.
3. A prompt asking for a "harmful answer" gets an answer the output guardrail
   must block (VIOLENCE on OUTPUT), while the prompt itself passes the input
   check: output blocking is testable, not only masking.
4. Anything else gets a short reply naming the model that answered, which is
   how a test proves a fallback happened.
A prompt asking for a "long answer" gets `long_answer` instead (about max tokens of
clean text, so a stream lasts long enough to time), ending in the harmful sentence
when the prompt also asks for a "harmful answer" (a windowed OUTPUT check must
stop the stream there).
"""

from __future__ import annotations

import re

from gateway.emulator.tokens import count_tokens, truncate_to_tokens

CONTACT_EMAIL = "support@example.com"
CONTACT_PHONE = "+1 206 555 0100"
HARMFUL_TRIGGER = "harmful answer"
LONG_TRIGGER = "long answer"
# Matches the emulator guardrail's VIOLENCE lexicon ("build a bomb", HIGH confidence).
HARMFUL_TEXT = "Here is how to build a bomb: first gather the parts, then assemble them."

_CONTEXT = re.compile(r"(?is)\bcontext\s*:\s*(?P<context>.+?)(?=\n\s*(?:question|answer)\s*:|\Z)")
_QUESTION = re.compile(r"(?im)^\s*question\s*:\s*(?P<question>.+?)\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_WORD = re.compile(r"[\w'-]+|[^\w\s]")
_CLAUSE_BREAK = {",", ";", ":", "(", ")", '"', "."}
_STOPWORDS = frozenset(
    """a an the of in on at to for from by with and or but is are was were be been being do does did
    what which who whom whose when where why how that this these those it its as into than then there
    their they he she his her him we you your i me my our not no yes many much more most some any
    has have had can could would should will shall may might must about after before during over under
    between through against also one s""".split()  # noqa: SIM905 - a word list reads better as prose
)
_ECHO_WORDS = 12
_MICRO_WORDS = 10


def answer(label: str, tier: str, prompt: str, question_text: str) -> str:
    """The model's answer; `prompt` is system + latest user turn, `question_text` the user turn alone."""
    squad = _squad_parts(prompt)
    if squad is not None:
        return extract_answer(tier, *squad)
    if "contact details" in prompt.lower():
        return f"[{label}] You can reach our support team at {CONTACT_EMAIL} or {CONTACT_PHONE}."
    if HARMFUL_TRIGGER in prompt.lower():
        return f"[{label}] {HARMFUL_TEXT}"
    words = question_text.split()
    echo = " ".join(words[:_ECHO_WORDS]) + (" ..." if len(words) > _ECHO_WORDS else "")
    return f'[{label}] Emulated answer to: "{echo}"'


def long_answer(label: str, tokens: int, *, harmful: bool = False) -> str:
    """Clean numbered sentences holding exactly `tokens` tokens (the harmful sentence last, if asked)."""
    tail = f" {HARMFUL_TEXT}" if harmful else ""
    budget = max(1, tokens - count_tokens(f"[{label}]") - count_tokens(tail))
    sentences, used, n = [f"[{label}]"], 0, 0
    while used < budget:
        n += 1
        sentence = f"Sentence {n} of a long emulated answer, written so a stream lasts long enough to time."
        sentences.append(sentence)
        used += count_tokens(sentence)
    filler, _cut = truncate_to_tokens(" ".join(sentences), budget + count_tokens(f"[{label}]"))
    return filler + tail


def _squad_parts(prompt: str) -> tuple[str, str] | None:
    context = _CONTEXT.search(prompt)
    question = _QUESTION.search(prompt)
    if context is None or question is None:
        return None
    return " ".join(context.group("context").split()), question.group("question").strip()


# ---------------------------------------------------------------- extractive answering
def extract_answer(tier: str, context: str, question: str) -> str:
    """Pick a span of the context; better tiers use better heuristics (documented in README.md)."""
    sentences = [s.strip() for s in _SENTENCE_END.split(context) if s.strip()] or [context]
    keys = _content_words(question)
    if tier == "basic":
        return sentences[0]
    best = max(range(len(sentences)), key=lambda i: (len(keys & _content_words(sentences[i])), -i))
    sentence = sentences[best]
    if tier == "lite":
        return sentence
    if tier == "micro":
        return _first_clause(sentence)
    return _best_span(sentence, keys, question) or sentence


def _stem(word: str) -> str:
    word = word.lower().strip("'")
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def _content_words(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text) if w[0].isalnum() and w.lower() not in _STOPWORDS}


def _first_clause(sentence: str) -> str:
    head = re.split(r"[,;:]", sentence, maxsplit=1)[0]
    return " ".join(head.split()[:_MICRO_WORDS])


def _best_span(sentence: str, keys: set[str], question: str) -> str:
    """The run of content words absent from the question, nearest its words, of the asked-for kind."""
    matches = list(_WORD.finditer(sentence))
    words = [m.group() for m in matches]
    anchors = [i for i, w in enumerate(words) if _stem(w) in keys]
    spans: list[tuple[int, int]] = []
    start = None
    for i, word in enumerate([*words, "."]):
        breaks = word in _CLAUSE_BREAK or word.lower() in _STOPWORDS or _stem(word) in keys
        if breaks and start is not None:
            spans.append((start, i))
            start = None
        elif not breaks and start is None:
            start = i
    spans = [s for s in spans if s[0] < s[1]]
    if not spans:
        return ""
    wants = _answer_kind(question)

    def score(span: tuple[int, int]) -> tuple[int, int, int]:
        text = words[span[0] : span[1]]
        kind_ok = int(_matches_kind(text, wants))
        distance = min((min(abs(a - span[0]), abs(a - span[1] + 1)) for a in anchors), default=0)
        return (kind_ok, -distance, -(span[1] - span[0]))

    first, last = max(spans, key=score)
    return sentence[matches[first].start() : matches[last - 1].end()]


def _answer_kind(question: str) -> str:
    q = question.lower()
    if re.search(r"\b(when|what year|which year|how many|how much|how long|how old|what percentage)\b", q):
        return "number"
    if re.search(r"\b(who|whom|whose|where|which)\b", q):
        return "name"
    return "any"


def _matches_kind(words: list[str], kind: str) -> bool:
    if kind == "number":
        return any(any(c.isdigit() for c in w) for w in words)
    if kind == "name":
        return bool(words) and words[0][:1].isupper()
    return True
