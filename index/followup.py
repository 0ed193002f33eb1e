"""Follow-up questions: a short reply that leans on the question before it ("and what did he add?") is asked
together with that question, so the words it leaves out (who, what, when) still reach retrieval.

Both front ends use this: Discord when someone replies to an answer (or writes in a bot thread), the terminal
chat when a line reads as a follow-up (`looks_like_follow_up`).
"""
from __future__ import annotations

import re

__all__ = ["FOLLOW_UP_MAX_CHARS", "combine_follow_up", "looks_like_follow_up"]

FOLLOW_UP_MAX_CHARS = 1000

# "and …", "what about …", "also …": a line that opens like this continues the conversation.
_CONTINUES = re.compile(r"(?i)^\s*(?:and|but|also|so|then|or|plus|what about|how about|and what about|what else"
                        r"|anything else|who else|same for|more on|tell me more)\b")
# "what did he add?": a personal pronoun standing for someone the previous question named ("it", "that" and
# "this" are left out: they open relative clauses and name things in questions that stand alone).
_PRONOUN = re.compile(r"(?i)\b(?:he|she|they|him|her|them|his|hers|their|theirs)\b")
_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*\b")


def combine_follow_up(previous: str, text: str) -> str:
    """The follow-up query: the previous question, then the new text (kept under FOLLOW_UP_MAX_CHARS)."""
    combined = f"{previous.strip()} {text.strip()}".strip()
    return combined[-FOLLOW_UP_MAX_CHARS:]


def looks_like_follow_up(text: str) -> bool:
    """Whether `text`, said right after another question, leans on it: it opens with a continuing word
    ("and", "what about", "also") or is a short question that refers by pronoun to someone it does not name
    ("what did he add?"). A question that names its own subject stands alone."""
    if _CONTINUES.match(text):
        return True
    words = text.split()
    names = [m.group() for m in _NAME.finditer(text) if m.start() > 0]  # the first word is capitalized anyway
    return len(words) <= 12 and bool(_PRONOUN.search(text)) and not names
