"""Text as a dataset (kd_core/language/corpus.py, grammar.py): the built-in language is the same bytes everywhere and
its true next-character distribution is right; a file of one's own is split by position; bad input is one line;
Tiny Shakespeare from the data folder (skipped where ../shared/data is absent)."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import pytest

from kd_core.config import ConfigError
from kd_core.data.spec import DatasetUnavailable
from kd_core.language.corpus import (
    GRAMMAR_CHARACTERS,
    MAX_VOCABULARY,
    CorpusError,
    grammar_corpus,
    load_corpus,
)
from kd_core.language.grammar import Grammar

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# sha256 of the built-in corpus's text: a change to the grammar or to how it is drawn must change this on purpose
# (every cached language teacher is keyed by it).
GRAMMAR_SHA256 = "f934136709e80c214c70e57b98974ee3bad80cb5c16318eb9304eb0b75538d43"


def test_the_built_in_corpus_is_the_same_bytes_everywhere():
    corpus = grammar_corpus()
    text = corpus.decode(corpus.train) + corpus.validation_text()
    assert len(text) <= GRAMMAR_CHARACTERS and len(text) > 0.99 * GRAMMAR_CHARACTERS
    assert hashlib.sha256(text.encode()).hexdigest() == corpus.digest == GRAMMAR_SHA256
    assert Grammar(0).text(2000) == Grammar(0).text(2000) != Grammar(1).text(2000)
    assert set(text) <= set("abcdefghijklmnopqrstuvwxyz .")


def test_every_sentence_is_grammatical_and_the_truth_is_a_distribution():
    grammar = Grammar(0)
    text = grammar.text(3000)
    for i in range(1, len(text)):
        start = text.rfind(". ", 0, i)
        dist = grammar.next_char_distribution(text[max(0, start) : i])
        assert dist is not None and dist.get(text[i], 0) > 0, (i, text[max(0, start) : i + 1])
        assert math.isclose(sum(dist.values()), 1.0, abs_tol=1e-12)


def test_the_truth_knows_the_agreement_twenty_characters_back():
    grammar = Grammar(0)
    # after "and" the second verb agrees with the subject: plural subject, no "s" at the verb's end
    plural = grammar.next_char_distribution("the dogs chase a cat and eat")
    singular = grammar.next_char_distribution("the dog chases a cat and eat")
    assert plural is not None and singular is not None
    assert plural.get("s", 0) == 0 and set(plural) <= {" ", "."}
    assert singular == {"s": 1.0}
    assert grammar.next_char_distribution("the dog") == {" ": 0.5, "s": 0.5}  # "the" is either number
    assert grammar.next_char_distribution("a dog runs.") == {" ": 1.0}
    for impossible in ("xyz", "the dog.", "the  dog", "a dogs "):
        assert grammar.next_char_distribution(impossible) is None, impossible


def test_the_truth_is_the_floor_and_it_is_far_from_zero():
    corpus = grammar_corpus()
    text = corpus.validation_text()[:3000]
    bits = corpus.grammar.bits_per_char(text, 200)
    assert 0.4 < bits < 1.2  # real ambiguity: several words are likely at every point


def test_a_file_of_ones_own_is_split_by_position(tmp_path):
    path = tmp_path / "notes.txt"
    text = "".join(f"line {i} é ünïcode\n" for i in range(200))
    path.write_text(text, encoding="utf-8")
    corpus = load_corpus(f"text:{path}")
    assert corpus.alphabet == "".join(sorted(set(text)))
    assert corpus.decode(corpus.train) + corpus.validation_text() == text
    assert len(corpus.validation) == int(len(text) * 0.1)
    assert corpus.validation_text() == text[-len(corpus.validation) :]
    assert corpus.grammar is None
    corpus.check_context(64)


@pytest.mark.parametrize(
    "content,words",
    [
        (b"", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe binary", "is not UTF-8 text (byte 0x89 at offset 0)"),
        ("".join(chr(0x4E00 + i) for i in range(MAX_VOCABULARY + 1)).encode(), f"more than the {MAX_VOCABULARY}"),
    ],
)
def test_bad_files_raise_one_clear_line(tmp_path, content, words):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusError, match="bad.txt") as error:
        load_corpus(f"text:{path}")
    assert words in str(error.value) and "\n" not in str(error.value)
    assert isinstance(error.value, ConfigError) and isinstance(error.value, ValueError)


def test_too_short_for_one_context_and_other_bad_names(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("a short text of a hundred characters or so, not enough for the validation text of a context!")
    corpus = load_corpus(f"text:{path}")
    with pytest.raises(CorpusError, match="too few for a context of 48: .* at least 491 characters"):
        corpus.check_context(48)
    corpus.check_context(8)
    for name, words in (
        (f"text:{tmp_path / 'missing.txt'}", "no such file"),
        ("text:", "needs a file's path"),
        ("wikipedia", "unknown corpus 'wikipedia'"),
    ):
        with pytest.raises(CorpusError, match=words):
            load_corpus(name)
    with pytest.raises(CorpusError, match="'Z' is not a character"):
        grammar_corpus().encode("the Zebra")


def test_tiny_shakespeare_absent_is_one_line(tmp_path):
    with pytest.raises(DatasetUnavailable, match="Tiny Shakespeare is not in"):
        load_corpus("tinyshakespeare", tmp_path)


@pytest.mark.realdata
@pytest.mark.skipif(not (REAL_DATA / "tinyshakespeare" / "input.txt").is_file(), reason="no ../shared/data")
def test_tiny_shakespeare_from_the_data_folder(monkeypatch):
    monkeypatch.setenv("KD_DATA_DIR", str(REAL_DATA))
    corpus = load_corpus("tinyshakespeare")
    assert corpus.characters == 1_115_394 and corpus.vocabulary == 65
    assert corpus.digest == "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
    assert corpus.decode(corpus.train[:14]) == "First Citizen:"
    assert load_corpus("tinyshakespeare", REAL_DATA).digest == corpus.digest
