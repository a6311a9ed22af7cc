"""The built-in language: a seeded probabilistic grammar of small English sentences whose true next-character
distribution after any prefix is known exactly.

    the old dogs chase a cat and sing today. my robot sings. two brave sailors help these queens.

A sentence is a subject (a determiner, sometimes an adjective, a noun), a verb that agrees with the subject's number
(``dogs chase``, ``dog chases``), then an object (transitive verbs) or sometimes an adverb, sometimes ``and`` with a
second verb that must still agree with the subject — a dependency twenty characters back — and a full stop.  Word
choices carry preferences drawn once from ``random.Random(seed)``: each adjective favours some nouns, each noun some
verbs, each verb some objects, so the text has structure a bigger model learns better, and real ambiguity (several
words are likely at every point) a model cannot remove.

The grammar is a deterministic automaton over words with probabilistic choices: the words of a sentence so far fix
its state, so ``next_char_distribution(prefix)`` sums the probabilities of the words the partial word can still
become.  Python's own ``random.Random`` with an integer seed and plain float arithmetic: the same bytes everywhere.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

# Regular words only: a noun's plural and a verb's third person singular both add "s".
NOUNS = (
    "dog cat bird cow horse frog duck goat pig rat bee ant owl hen lamb seal crab mole bear lion tiger snake whale "
    "shark eagle crow robin girl boy king queen baker farmer sailor doctor teacher pilot robot ghost friend cook"
).split()
TRANSITIVE = "see find like want chase eat hear follow help love call meet know visit feed greet".split()
INTRANSITIVE = "run sleep sing swim jump walk laugh sit dance smile".split()
ADJECTIVES = "old young big small red green happy sad quick slow tall brave shy loud quiet lazy clever funny".split()
ADVERBS = "today often again slowly quickly here".split()
SINGULAR_DETERMINERS = {"a": 3.0, "one": 1.0, "this": 1.0}
PLURAL_DETERMINERS = {"two": 1.0, "some": 2.0, "these": 1.0}
EITHER_DETERMINERS = {"the": 5.0, "my": 1.0}  # either number: the noun decides

P_ADJECTIVE = 0.35  # an adjective before a noun
P_ADVERB = 0.5  # an adverb after an intransitive verb
P_AND = 0.3  # "and" a second verb, once per sentence
FAVOURED_SHARE = 0.75  # the probability mass on a word's favoured successors
END = "."  # the token that ends a sentence; the text puts ". " after its last word

State = tuple  # (stage, number, word that sets the preferences, whether "and" was used)


def _plural(word: str) -> str:
    return word + "s"


@dataclass(frozen=True)
class Grammar:
    """The lexicon's preferences, drawn from ``seed``; ``next_words`` is the automaton."""

    seed: int = 0
    favoured: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        rng = random.Random(self.seed)
        verbs = TRANSITIVE + INTRANSITIVE
        favoured = {}
        for adjective in ADJECTIVES:
            favoured[adjective] = tuple(rng.sample(NOUNS, 6))
        for noun in NOUNS:
            favoured[noun] = tuple(rng.sample(verbs, 4))
        for verb in TRANSITIVE:
            favoured[verb] = tuple(rng.sample(NOUNS, 5))
        object.__setattr__(self, "favoured", favoured)

    # ---- the automaton ---------------------------------------------------------------------------------------

    def _prefer(self, pool: list[str], key: str | None) -> dict[str, float]:
        """A distribution over ``pool``: FAVOURED_SHARE on ``key``'s favoured words (a Zipf-like 1/rank inside),
        the rest spread evenly; ``key`` None: 1/rank over the pool's order."""
        if key is None:
            weights = {word: 1.0 / (rank + 1) ** 0.7 for rank, word in enumerate(pool)}
            total = sum(weights.values())
            return {word: w / total for word, w in weights.items()}
        top = [word for word in self.favoured[key] if word in pool]
        top_weights = [1.0 / (rank + 1) for rank in range(len(top))]
        top_total = sum(top_weights)
        rest = [word for word in pool if word not in top]
        out = {word: FAVOURED_SHARE * w / top_total for word, w in zip(top, top_weights)}
        out.update({word: (1.0 - FAVOURED_SHARE) / len(rest) for word in rest})
        return out

    def _noun_phrase_start(self, stage: str, rest: State) -> list[tuple[str, float, State]]:
        """A determiner: its number ("sg", "pl" or "any"), then the noun phrase goes on."""
        out = []
        weights = {
            **{(w, "sg"): p for w, p in SINGULAR_DETERMINERS.items()},
            **{(w, "pl"): p for w, p in PLURAL_DETERMINERS.items()},
            **{(w, "any"): p for w, p in EITHER_DETERMINERS.items()},
        }
        total = sum(weights.values())
        for (word, number), p in weights.items():
            out.append((word, p / total, (stage + "-det", number, *rest)))
        return out

    def _nouns(self, stage: str, number: str, key: str | None, rest: State) -> list[tuple[str, float, State]]:
        out = []
        numbers = {"sg": [("sg", 1.0)], "pl": [("pl", 1.0)], "any": [("sg", 0.5), ("pl", 0.5)]}[number]
        for noun, p in self._prefer(NOUNS, key).items():
            for n, q in numbers:
                out.append((noun if n == "sg" else _plural(noun), p * q, (stage + "-noun", n, noun, *rest)))
        return out

    def _verbs(self, number: str, subject: str, used_and: bool) -> list[tuple[str, float, State]]:
        out = []
        for verb, p in self._prefer(TRANSITIVE + INTRANSITIVE, subject).items():
            form = _plural(verb) if number == "sg" else verb
            out.append((form, p, ("verb", number, verb, used_and, subject)))
        return out

    def next_words(self, state: State | None) -> list[tuple[str, float, State | None]]:
        """Every (word, probability, next state) after ``state`` (None: a sentence's start); the word END ends
        the sentence (next state None).  Probabilities sum to 1."""
        if state is None:
            return self._noun_phrase_start("subject", ())
        stage = state[0]
        if stage in ("subject-det", "object-det"):
            phrase = stage.split("-")[0]
            number, rest = state[1], state[2:]
            adjectives = [
                (adj, P_ADJECTIVE / len(ADJECTIVES), (phrase + "-adj", number, adj, *rest)) for adj in ADJECTIVES
            ]
            nouns = [(w, (1 - P_ADJECTIVE) * p, s) for w, p, s in self._nouns(phrase, number, None, rest)]
            return adjectives + nouns
        if stage in ("subject-adj", "object-adj"):
            phrase = stage.split("-")[0]
            return self._nouns(phrase, state[1], state[2], state[3:])
        if stage == "subject-noun":
            _, number, noun = state
            return self._verbs(number, noun, False)
        if stage == "verb":
            _, number, verb, used_and, subject = state
            out = []
            if verb in TRANSITIVE:
                out += self._noun_phrase_start("object", (verb, used_and, number, subject))
                return out
            out += [(adv, P_ADVERB / len(ADVERBS), ("adverb", number, subject, used_and)) for adv in ADVERBS]
            out += self._and_or_end((1 - P_ADVERB), number, subject, used_and)
            return out
        if stage == "object-noun":
            _, _, _, _verb, used_and, number, subject = state
            return self._and_or_end(1.0, number, subject, used_and)
        if stage == "adverb":
            _, number, subject, used_and = state
            return self._and_or_end(1.0, number, subject, used_and)
        if stage == "and":
            _, number, subject = state
            return self._verbs(number, subject, True)
        raise ValueError(f"unknown grammar state {state!r}")

    def _and_or_end(self, mass: float, number: str, subject: str, used_and: bool) -> list:
        if used_and:
            return [(END, mass, None)]
        return [("and", mass * P_AND, ("and", number, subject)), (END, mass * (1 - P_AND), None)]

    # ---- text ------------------------------------------------------------------------------------------------

    def sentences(self, count: int, seed: int | None = None) -> list[str]:
        """``count`` sentences drawn from ``random.Random(seed)`` (default: the grammar's own seed + 1)."""
        rng = random.Random(self.seed + 1 if seed is None else seed)
        out = []
        for _ in range(count):
            words, state = [], None
            while True:
                options = self.next_words(state)
                word, _, state = rng.choices(options, weights=[p for _, p, _ in options])[0]
                if word == END:
                    break
                words.append(word)
            out.append(" ".join(words) + ".")
        return out

    def text(self, characters: int, seed: int | None = None) -> str:
        """Sentences joined by single spaces, cut at the last whole sentence within ``characters``."""
        pieces, length, batch = [], 0, max(1, characters // 20)
        rng_seed = self.seed + 1 if seed is None else seed
        while length < characters:
            for sentence in self.sentences(batch, seed=rng_seed):
                if length + len(sentence) + 1 > characters:
                    return " ".join(pieces) + " "
                pieces.append(sentence)
                length += len(sentence) + 1
            rng_seed += 1_000_003  # the next batch of sentences, still from a seed
        return " ".join(pieces) + " "

    # ---- the truth -------------------------------------------------------------------------------------------

    def next_char_distribution(self, prefix: str) -> dict[str, float] | None:
        """The true probability of each next character after ``prefix``, or None when ``prefix`` is not a
        beginning of a text of this language.  Sentences are independent, so only the text after the prefix's
        last sentence end counts; a prefix with no sentence end is read as starting a sentence."""
        end = prefix.rfind(END + " ")
        sentence = prefix[end + 2 :] if end >= 0 else prefix
        if sentence.endswith(END):
            return {" ": 1.0} if self.is_sentence(sentence[:-1]) else None
        *complete, partial = sentence.split(" ")
        if any(not word for word in complete):
            return None  # two spaces in a row
        state = self._state_after(complete)
        if state is False:
            return None
        out: dict[str, float] = {}
        total = 0.0
        for word, p, after in self.next_words(state):
            if word == END or not word.startswith(partial):
                continue
            total += p
            if len(word) > len(partial):
                out[word[len(partial)]] = out.get(word[len(partial)], 0.0) + p
            else:  # the word is complete: a space if the sentence goes on, the full stop if it ends
                p_end = sum(q for w, q, _ in self.next_words(after) if w == END)
                out[END] = out.get(END, 0.0) + p * p_end
                out[" "] = out.get(" ", 0.0) + p * (1.0 - p_end)
        if total == 0.0:
            return None
        return {char: p / total for char, p in sorted(out.items()) if p > 0}

    def is_sentence(self, words: str) -> bool:
        """Whether ``words`` (a sentence without its full stop) is a whole sentence of this language."""
        state = self._state_after(words.split(" ")) if words else False
        return state is not False and any(w == END for w, _, _ in self.next_words(state))

    def _state_after(self, words: list[str]):
        """The state after a sentence's first words, or False when they are not a sentence's beginning."""
        state = None
        for word in words:
            nxt = [s for w, _, s in self.next_words(state) if w == word]
            if not nxt or word == END:
                return False
            state = nxt[0]
        return state

    def bits_per_char(self, text: str, start: int = 0) -> float:
        """The true cross-entropy in bits per character of ``text[start:]`` given everything before it: the best
        any model can do on it (computed from each position's true next-character distribution)."""
        total = 0.0
        for i in range(start, len(text)):
            dist = self.next_char_distribution(text[max(0, text.rfind(". ", 0, i)) : i])
            if dist is None or text[i] not in dist:
                raise ValueError(f"position {i} of the text is not this grammar's")
            total -= math.log2(dist[text[i]])
        return total / max(1, len(text) - start)
