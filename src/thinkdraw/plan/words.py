"""Words every stage writes about a plan's things: one rule for the indefinite article."""

from __future__ import annotations


def with_article(words: str) -> str:
    """'a ball', 'an apple', 'an orange star': 'an' before a vowel letter, 'a' otherwise."""
    return ("an " if words[:1].lower() in "aeiou" else "a ") + words
