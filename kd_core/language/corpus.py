"""Text as a dataset: characters as integers, split by position into training text and validation text.

    load_corpus("grammar")                 the built-in language (grammar.py): no download, the same bytes
                                           everywhere, and its true next-character distribution is known
    load_corpus("tinyshakespeare")         <data folder>/tinyshakespeare/input.txt (KD_DATA_DIR or --data-dir)
    load_corpus("text:notes/my.txt")       any UTF-8 file of your own

The last 10 % of the characters are the validation text, the rest the training text: a split by position, so no
sentence of the validation text was seen whole in training (a random split of windows would leak).  The alphabet is
the sorted set of characters of the whole text.  Bad input raises ``CorpusError`` (a ``ConfigError``: one line on
the command line, exit 2), never a traceback: an empty file, a file that is not UTF-8, more distinct characters
than ``MAX_VOCABULARY``, or too few characters for one context in the validation text (``check_context``).
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from kd_core.config import ConfigError
from kd_core.data.datasets import DATA_DIR_HINT, default_data_dir
from kd_core.data.spec import DatasetUnavailable
from kd_core.language.grammar import Grammar

MAX_VOCABULARY = 256  # distinct characters a model here reads: a bigger alphabet is not a character-level text
VALIDATION_SHARE = 0.1  # the last 10 % of the characters
GRAMMAR_CHARACTERS = 200_000  # the built-in corpus's length: about 0.6 s to generate, teachers see it a few times
GRAMMAR_SEED = 0
TEXT_PREFIX = "text:"
CORPORA = ("grammar", "tinyshakespeare")  # the built-in names; "text:PATH" is any file of one's own
SHAKESPEARE_FILE = "tinyshakespeare/input.txt"


class CorpusError(ConfigError):
    """A text that cannot be a corpus: the message is one line naming the file and what is wrong."""


@dataclass(frozen=True)
class Corpus:
    """A text ready to train on: its characters as integers, split by position, and where it came from."""

    name: str
    alphabet: str  # the distinct characters, sorted: character i of the alphabet is integer i
    train: torch.Tensor  # int64 (N_train,)
    validation: torch.Tensor  # int64 (N_val,): the last VALIDATION_SHARE of the text
    digest: str  # sha256 of the text's UTF-8 bytes: what a cached teacher is keyed by
    grammar: Grammar | None = None  # the built-in language: the true next-character distribution is known

    @property
    def vocabulary(self) -> int:
        return len(self.alphabet)

    @property
    def characters(self) -> int:
        return len(self.train) + len(self.validation)

    def encode(self, text: str) -> torch.Tensor:
        """``text`` as integers; CorpusError for a character outside the alphabet."""
        index = {c: i for i, c in enumerate(self.alphabet)}
        unknown = sorted({c for c in text if c not in index})
        if unknown:
            raise CorpusError(f"{unknown[0]!r} is not a character of corpus {self.name!r}")
        return torch.tensor([index[c] for c in text], dtype=torch.int64)

    def decode(self, ids) -> str:
        return "".join(self.alphabet[int(i)] for i in ids)

    def validation_text(self) -> str:
        return self.decode(self.validation)

    def check_context(self, context: int) -> None:
        """CorpusError unless both the training and the validation text hold a window of ``context`` + 1."""
        shortest = min(len(self.train), len(self.validation))
        if shortest < context + 1:
            need = int((context + 1) / VALIDATION_SHARE) + 1
            raise CorpusError(
                f"corpus {self.name!r} holds {self.characters} characters, too few for a context of {context}: "
                f"its last 10 % (the validation text) must hold {context + 1}, so at least {need} characters"
            )


def corpus_from_text(name: str, text: str, grammar: Grammar | None = None) -> Corpus:
    """A corpus of ``text``: checked, its alphabet found, split by position."""
    if not text:
        raise CorpusError(f"{name} is empty")
    alphabet = "".join(sorted(set(text)))
    if len(alphabet) > MAX_VOCABULARY:
        raise CorpusError(
            f"{name} holds {len(alphabet)} distinct characters, more than the {MAX_VOCABULARY} a character-level "
            "model here reads"
        )
    index = {c: i for i, c in enumerate(alphabet)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.int64)
    cut = len(ids) - int(len(ids) * VALIDATION_SHARE)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Corpus(name, alphabet, ids[:cut], ids[cut:], digest, grammar)


def read_text(path: str | os.PathLike, name: str | None = None) -> str:
    """A UTF-8 file's text; CorpusError when it is missing, not a file, or not UTF-8 (a binary file, say)."""
    path = Path(path).expanduser()
    label = name or str(path)
    if not path.is_file():
        raise CorpusError(f"{label}: no such file")
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CorpusError(
            f"{label} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); "
            "give a plain text file"
        ) from None


@functools.lru_cache(maxsize=2)
def grammar_corpus(characters: int = GRAMMAR_CHARACTERS, seed: int = GRAMMAR_SEED) -> Corpus:
    """The built-in language's corpus (kept in memory once made)."""
    grammar = Grammar(seed)
    return corpus_from_text("grammar", grammar.text(characters), grammar)


def load_corpus(name: str = "grammar", data_dir: str | os.PathLike | None = None) -> Corpus:
    """The corpus called ``name``: "grammar", "tinyshakespeare" (from the data folder) or "text:PATH"."""
    if name == "grammar":
        return grammar_corpus()
    if name == "tinyshakespeare":
        root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
        path = root / SHAKESPEARE_FILE
        if not path.is_file():
            raise DatasetUnavailable(
                f"Tiny Shakespeare is not in {root}: put karpathy/char-rnn's input.txt there as {path}, {DATA_DIR_HINT}"
            )
        return _file_corpus("tinyshakespeare", str(path))
    if name.startswith(TEXT_PREFIX):
        path = name[len(TEXT_PREFIX) :]
        if not path:
            raise CorpusError("text: needs a file's path, as text:PATH")
        return _file_corpus(name, path)
    raise CorpusError(f"unknown corpus {name!r}; choose one of: {', '.join(CORPORA)}, or text:PATH")


def anywhere(name: str, data_dir: str | os.PathLike | None) -> tuple[str, str | None]:
    """``name`` and ``data_dir`` as another process finds them, whatever its working folder: a ``text:`` path and
    the data folder made absolute (a Ray worker does not start in the folder of the process that sent its task)."""
    if name.startswith(TEXT_PREFIX) and name[len(TEXT_PREFIX) :]:
        name = TEXT_PREFIX + str(Path(name[len(TEXT_PREFIX) :]).expanduser().absolute())
    return name, None if data_dir is None else str(Path(data_dir).expanduser().absolute())


def _file_corpus(name: str, path: str) -> Corpus:
    return corpus_from_text(name, read_text(path, name))
