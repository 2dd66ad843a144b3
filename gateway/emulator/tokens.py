"""The one token-counting rule the emulator uses for every input and output.

A token is a run of word characters (`\\w+`) or a single other non-space
character (punctuation, symbols). "Hello, world!" is 4 tokens. Real tokenizers
differ, but usage must be honest and reproducible: the same rule counts the
prompt, the answer, truncation by max tokens, and the streamed deltas.
"""

from __future__ import annotations

import re

TOKEN = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    return sum(1 for _ in TOKEN.finditer(text))


def truncate_to_tokens(text: str, limit: int) -> tuple[str, bool]:
    """The longest prefix of `text` holding at most `limit` tokens, and whether anything was cut."""
    for index, match in enumerate(TOKEN.finditer(text)):
        if index == limit:
            return text[: match.start()].rstrip(), True
    return text, False


def split_deltas(text: str) -> list[str]:
    """Stream pieces: each word with its trailing space, so the pieces join back to the exact text."""
    pieces = re.findall(r"\S+\s*|\s+", text)
    return pieces or [""]
