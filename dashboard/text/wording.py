"""Small rules of English the page's sentences need: "an 8", "a 3", "an 11 %", "an airplane".  No Streamlit here."""

from __future__ import annotations

import re

VOWELS = "aeiou"
# Whole numbers read aloud with a vowel sound first: eight…, eleven, eighteen (and their thousands: "eleven thousand").
_AN_NUMBER = re.compile(r"^(8|11(?!\d)|18(?!\d)|11,|18,)")


def article(word: str) -> str:
    """ "a" or "an" for the word as it is read aloud: an 8, an 11, an 18 %, an 80, a 1, a 3, an airplane, a truck."""
    text = str(word).strip().lstrip("*_#")
    if not text:
        return "a"
    if text[0].isdigit():
        return "an" if _AN_NUMBER.match(text) else "a"
    return "an" if text[0].lower() in VOWELS else "a"


def with_article(word: str) -> str:
    """ "an 8", "a 3": the word after its article."""
    return f"{article(word)} {word}"


def lower_first(text: str) -> str:
    """A sentence's first letter in lower case, to go after a comma: "Teacher, epoch 3" -> "teacher, epoch 3", but an
    acronym stays as it is: "KD student" never becomes "kD student"."""
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def sentence(text: str) -> str:
    """``text`` ended as a sentence: a full stop unless it already ends with one, a question or an exclamation mark
    ("How small can the student get?" never becomes "…get?.")."""
    text = text.rstrip()
    return text if text.endswith((".", "?", "!")) else text + "."
