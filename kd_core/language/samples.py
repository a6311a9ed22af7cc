"""What a trained language model says: samples of its text, and its next-character distribution after a prefix.

    sample = sample_text(student, corpus, length=300, temperature=1.0, seed=0, judge=teacher)
    sample.text, sample.entropy_bits, sample.judge_bits
    next_char_distributions("the dogs ch", corpus, {"teacher": t, "student": s}, temperature=2.0)

A sample's ``entropy_bits`` is the mean entropy of the distributions it was drawn from (how unsure the model was as
it wrote); ``judge_bits`` is the teacher's cross-entropy of the same characters, −mean log₂ p_teacher (how
plausible the teacher finds them: a mode-seeking student writes text the teacher rates likely, a mode-covering one
writes more varied text the teacher rates less likely).  On the built-in corpus ``truth_bits`` is the same under the
language's true distribution (None when the sample leaves the language), and ``grammatical`` the share of the
sample's whole sentences that are sentences of the language.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from kd_core.language.corpus import Corpus, CorpusError
from kd_core.language.model import CharTransformer

LOG2 = math.log(2.0)
END_OF_SENTENCE = ". "


@dataclass(frozen=True)
class Sample:
    """A model's text after a one-character prompt, with what it cost to write and how it is judged."""

    text: str
    temperature: float
    entropy_bits: float  # mean entropy (bits) of the model's distributions at its sampled positions
    judge_bits: float | None  # the teacher's cross-entropy of the sample, bits per character
    truth_bits: float | None  # the language's true cross-entropy of it (built-in corpus; None if ungrammatical)
    grammatical: float | None  # the share of its whole sentences that are sentences of the language (built-in)


@torch.no_grad()
def sample_text(
    model: CharTransformer,
    corpus: Corpus,
    length: int = 300,
    temperature: float = 1.0,
    seed: int = 0,
    judge: CharTransformer | None = None,
) -> Sample:
    """``length`` characters from ``model`` at ``temperature``, prompted with the validation text's first
    character; deterministic for a seed."""
    if length < 1 or not temperature > 0:
        raise ValueError(f"a sample needs a length ≥ 1 and a temperature > 0, got {length} and {temperature}")
    generator = torch.Generator().manual_seed(seed)
    model.eval()
    tokens = corpus.validation[:1].unsqueeze(0)
    entropy = 0.0
    for _ in range(length):
        log_probs = F.log_softmax(model(tokens[:, -model.context :])[:, -1, :] / temperature, dim=-1)
        entropy -= float((log_probs.exp() * log_probs).sum()) / LOG2
        nxt = torch.multinomial(log_probs.exp(), 1, generator=generator)
        tokens = torch.cat([tokens, nxt], dim=1)
    judge_bits = None if judge is None else cross_entropy_bits(judge, tokens[0])
    text = corpus.decode(tokens[0])
    truth_bits = grammatical = None
    if corpus.grammar is not None:
        truth_bits = _truth_bits(corpus, text)
        whole = text.split(END_OF_SENTENCE)[1:-1]  # the first piece may start mid-sentence, the last is cut off
        if whole:
            grammatical = sum(corpus.grammar.is_sentence(words) for words in whole) / len(whole)
    return Sample(text[1:], temperature, entropy / length, judge_bits, truth_bits, grammatical)


@torch.no_grad()
def cross_entropy_bits(model: CharTransformer, tokens: torch.Tensor) -> float:
    """−mean log₂ p_model of ``tokens[1:]`` given what comes before each (at most a context back)."""
    model.eval()
    total = 0.0
    for end in range(1, len(tokens)):
        window = tokens[max(0, end - model.context) : end].unsqueeze(0)
        total -= float(F.log_softmax(model(window)[0, -1], dim=-1)[tokens[end]]) / LOG2
    return total / (len(tokens) - 1)


def _truth_bits(corpus: Corpus, text: str) -> float | None:
    total = 0.0
    for i in range(1, len(text)):
        start = text.rfind(". ", 0, i)
        dist = corpus.grammar.next_char_distribution(text[max(0, start) : i] if start >= 0 else text[1:i])
        if dist is None or dist.get(text[i], 0.0) <= 0:
            return None
        total -= math.log2(dist[text[i]])
    return total / (len(text) - 1)


@torch.no_grad()
def next_char_distributions(
    prefix: str, corpus: Corpus, models: dict[str, CharTransformer], temperature: float = 1.0
) -> dict[str, dict[str, float]]:
    """Each model's probability of every next character after ``prefix`` at ``temperature`` (its last context of
    characters), and "truth" where the corpus's true distribution is known (softened the same way: p^(1/T),
    renormalised).  CorpusError for an empty prefix or a character outside the corpus's alphabet."""
    if not prefix:
        raise CorpusError("a prefix needs at least one character")
    if not temperature > 0:
        raise CorpusError(f"temperature must be above 0, got {temperature!r}")
    ids = corpus.encode(prefix)
    out = {}
    for name, model in models.items():
        model.eval()
        logits = model(ids[-model.context :].unsqueeze(0))[0, -1] / temperature
        probs = F.softmax(logits, dim=-1)
        out[name] = {c: float(p) for c, p in zip(corpus.alphabet, probs)}
    if corpus.grammar is not None:
        truth = corpus.grammar.next_char_distribution(prefix)
        if truth is not None:
            powered = {c: p ** (1.0 / temperature) for c, p in truth.items()}
            total = sum(powered.values())
            out["truth"] = {c: powered.get(c, 0.0) / total for c in corpus.alphabet}
    return out
