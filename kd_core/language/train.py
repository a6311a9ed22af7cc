"""Training the language models: a teacher (cached), a distilled student and a scratch student, with sequence losses.

    config = LanguageConfig(loss="reverse-kl", on_policy=0.5)
    teacher = train_teacher(config)                       # found in the teacher cache, or trained and stored there
    student = train_student(config, teacher)              # the distilled student
    scratch = train_student(config, None)                 # the same student from the characters alone

A step draws ``batch_size`` windows of ``context`` + 1 characters (positions from the step's seeded generator); the
model predicts every next character of each window, and its (batch · context) positions are the rows of the loss:
the distillation methods of kd_core/methods are given flattened positions exactly as they are given images, so
token-level KD *is* the ``kd`` method, and ``reverse-kl`` and ``jsd`` are the same modules the classifiers use.

Which sequences a student learns from is a setting, not a loss:

* ``sequence_level`` (Kim & Rush, "Sequence-Level Knowledge Distillation", EMNLP 2016): the windows come from text
  the teacher wrote (sampled once per teacher at T = 1, ``teacher_text``), not from the corpus; with λ = 0 the
  student is trained on the teacher's samples alone, as in the paper, with λ > 0 the token loss is added on them.
* ``on_policy`` = λ_on (GKD's ``lmbda``, huggingface/trl ``trl/trainer/gkd_trainer.py`` @
  a9fa292c2d1df64c6f0189ebe32d37b46ce64438, ``training_step``): with that probability a batch is written by the
  student itself — the first half of each window is a prompt from the data, the second half the student's sample
  at ``generation_temperature`` — and scored by the teacher on the generated half only, with λ = 1 (there are no
  true next characters for text the student wrote, so no cross-entropy).  The draw comes from the step's generator,
  so it repeats with the seed.

Each model trains on one torch thread (``one_thread``): several threads on a busy two-core machine were measured up
to 40× slower, and one thread gives the same bits for the same seed.  Seeds run side by side instead (seeds.py).
Progress goes to an ``EventCallback`` as ``ProgressEvent``s (kd_core/train/records.py): a ``"step"`` event every
step, and every ``eval_every`` steps an ``"epoch"`` event — here an evaluation round, not a pass over the data —
whose ``parts["validation_bits"]`` is the validation loss in bits per character so far (``test_accuracy`` is None).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import torch
import torch.nn.functional as F

from kd_core.config import ConfigError
from kd_core.language.corpus import Corpus, load_corpus
from kd_core.language.model import CharTransformer, ModelSize, parameter_count
from kd_core.methods.losses import cross_entropy
from kd_core.methods.registry import METHODS, MethodError, make_loss, normalize_args
from kd_core.runs.cache import TeacherCache
from kd_core.train.loop import Cancelled, Diverged
from kd_core.train.records import EventCallback, Phase, ProgressEvent, StepRecord, StopFlag, stored_stride

BITS = 1.0 / math.log(2.0)  # nats -> bits
TEACHER_TEXT_STREAMS = 64  # sequence-level KD: the teacher writes this many texts side by side ...
TEACHER_TEXT_LENGTH = 384  # ... each this long (24,576 characters; a few seconds of the teacher's forward passes)
PROGRESS_VALIDATION_CHARS = 4096  # the validation text scored at each evaluation round; the whole of it at the end


@dataclass(frozen=True)
class LanguageConfig:
    """Every setting of a language distillation: the corpus, the two models, their training, and the loss."""

    corpus: str = "grammar"  # "grammar", "tinyshakespeare" or "text:PATH" (corpus.load_corpus)
    context: int = 48  # characters a model sees
    teacher_layers: int = 4
    teacher_width: int = 128
    teacher_heads: int = 4
    student_layers: int = 1
    student_width: int = 48
    student_heads: int = 2
    teacher_steps: int = 800
    steps: int = 400  # each student's
    teacher_lr: float = 3e-3  # AdamW's peak step size under a one-cycle schedule
    lr: float = 2e-2  # the students' (scratch students: 1.25 bits/char after 400 steps at 2e-2, 1.30 at 1e-2)
    batch_size: int = 16
    seed: int = 0  # the students' (initialisation and batches); the teacher has its own
    teacher_seed: int = 0
    loss: str = "kd"  # a logit method of kd_core.methods.registry.METHODS
    loss_args: tuple[tuple[str, float], ...] = ()
    # T = 1, λ = 1: the student is asked for the teacher's very distribution over next characters, with no
    # cross-entropy beside it (as GKD and MiniLLM do).  Measured on the built-in corpus over seeds 0-2 (students'
    # lr 1e-2): KD − scratch −0.066 bits/char at λ 1 (helps), −0.047 at λ 0.5 (no clear difference), +0.002 at T 2
    # λ 0.7; at lr 2e-2 and λ 1, −0.051 (helps).
    temperature: float = 1.0
    lam: float = 1.0  # the soft part's weight (methods that use λ)
    on_policy: float = 0.0  # λ_on: the probability that a batch is written by the student
    generation_temperature: float = 1.0  # the student's sampling temperature for on-policy batches
    sequence_level: bool = False  # train on the teacher's text instead of the corpus
    eval_every: int = 50  # steps between evaluation rounds

    @property
    def teacher_size(self) -> ModelSize:
        return ModelSize(self.teacher_layers, self.teacher_width, self.teacher_heads)

    @property
    def student_size(self) -> ModelSize:
        return ModelSize(self.student_layers, self.student_width, self.student_heads)

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "loss_args": [list(pair) for pair in self.loss_args]}


def validate(config: LanguageConfig) -> LanguageConfig:
    """``config`` checked, with its loss arguments in canonical form; ConfigError (one line) for a bad setting."""
    whole = {
        "context": (config.context, 2, 1024),
        "teacher_layers": (config.teacher_layers, 1, 24),
        "teacher_width": (config.teacher_width, 1, 1024),
        "teacher_heads": (config.teacher_heads, 1, 64),
        "student_layers": (config.student_layers, 1, 24),
        "student_width": (config.student_width, 1, 1024),
        "student_heads": (config.student_heads, 1, 64),
        "teacher_steps": (config.teacher_steps, 1, 1_000_000),
        "steps": (config.steps, 1, 1_000_000),
        "batch_size": (config.batch_size, 1, 4096),
        "eval_every": (config.eval_every, 1, 1_000_000),
    }
    for name, (value, low, high) in whole.items():
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    for role, size in (("teacher", config.teacher_size), ("student", config.student_size)):
        if size.width % size.heads:
            raise ConfigError(f"{role}_width ({size.width}) must be divisible by {role}_heads ({size.heads})")
    for name, low, high, closed_low in (
        ("teacher_lr", 0.0, 10.0, False),
        ("lr", 0.0, 10.0, False),
        ("temperature", 0.0, 100.0, False),
        ("generation_temperature", 0.0, 100.0, False),
        ("lam", 0.0, 1.0, True),
        ("on_policy", 0.0, 1.0, True),
    ):
        value = getattr(config, name)
        ok = isinstance(value, (int, float)) and math.isfinite(value) and value <= high
        ok = ok and (value >= low if closed_low else value > low)
        if not ok:
            bound = "from" if closed_low else "above"
            raise ConfigError(f"{name} must be a number {bound} {low:g} up to {high:g}, got {value!r}")
    if config.loss not in METHODS:
        raise ConfigError(f"unknown loss {config.loss!r}; choose one of: {', '.join(logit_methods())}")
    if METHODS[config.loss].needs_features:
        raise ConfigError(f"loss {config.loss!r} needs hidden features; a language model here uses logit losses only")
    try:
        args = normalize_args(config.loss, config.loss_args)
    except MethodError as error:
        raise ConfigError(str(error)) from None
    return dataclasses.replace(config, loss_args=args)


def logit_methods() -> list[str]:
    """The methods a language student can use: every registered loss on logits alone."""
    return [name for name, m in METHODS.items() if not m.needs_features]


def teacher_key(config: LanguageConfig, corpus: Corpus) -> str:
    """A hash of everything that determines a trained teacher: its settings and the corpus's bytes."""
    identity = {
        "kind": "language-teacher-v1",
        "corpus": corpus.digest,
        **{
            name: getattr(config, name)
            for name in ("context", "teacher_layers", "teacher_width", "teacher_heads", "teacher_steps")
        },
        **{name: getattr(config, name) for name in ("teacher_lr", "batch_size", "teacher_seed")},
    }
    return "lm-" + hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]


# ---- records -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """The validation loss after ``step`` steps, in bits per character."""

    step: int
    validation_bits: float


@dataclass(frozen=True)
class ModelReport:
    """One trained model: its shape, its validation bits/char, its loss history and how long it took."""

    phase: Phase  # "teacher", "student" (distilled) or "baseline" (scratch)
    size: ModelSize
    parameters: int
    validation_bits: float  # on the whole validation text
    steps: tuple[StepRecord, ...]  # every stored_stride-th step's losses, as a classifier run stores them
    evaluations: tuple[Evaluation, ...]
    seconds: float  # training time (0 when found in the cache)
    cached: bool = False
    on_policy_batches: int = 0  # batches the student wrote itself

    def to_dict(self) -> dict:
        return {
            "phase": self.phase,
            "size": dataclasses.asdict(self.size),
            "parameters": self.parameters,
            "validation_bits": self.validation_bits,
            "seconds": self.seconds,
            "cached": self.cached,
            "on_policy_batches": self.on_policy_batches,
            "steps": [row.to_dict() for row in self.steps],
            "evaluations": [dataclasses.asdict(row) for row in self.evaluations],
        }


@dataclass
class TrainedModel:
    """A model ready to use, with its report; ``key``: the teacher cache's key (teachers only)."""

    model: CharTransformer = field(repr=False)
    report: ModelReport
    key: str | None = None


# ---- the pieces of a training loop ---------------------------------------------------------------------------


@contextmanager
def one_thread() -> Iterator[None]:
    """Torch on one thread inside (the same bits for the same seed; several threads on a busy machine are slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def seeded_model(vocabulary: int, context: int, size: ModelSize, seed: int) -> CharTransformer:
    """A model whose initial weights depend on ``seed`` alone (torch's global generator, restored afterwards)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CharTransformer(vocabulary, context, size)


def windows(ids: torch.Tensor, starts: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (B, length) and next-character targets (B, length) of the windows starting at ``starts``."""
    index = starts.unsqueeze(1) + torch.arange(length + 1).unsqueeze(0)
    chunk = ids[index]
    return chunk[:, :-1], chunk[:, 1:]


def draw_batch(ids: torch.Tensor, batch_size: int, context: int, generator: torch.Generator):
    """``batch_size`` random windows of ``ids``: a text (N,), or texts side by side (S, N), a window inside one."""
    if ids.dim() == 2:
        rows = torch.randint(0, ids.shape[0], (batch_size,), generator=generator)
        starts = torch.randint(0, ids.shape[1] - context, (batch_size,), generator=generator)
        return windows(ids.reshape(-1), rows * ids.shape[1] + starts, context)
    starts = torch.randint(0, len(ids) - context, (batch_size,), generator=generator)
    return windows(ids, starts, context)


@torch.no_grad()
def validation_bits(model: CharTransformer, ids: torch.Tensor, batch_size: int = 64) -> float:
    """Mean cross-entropy in bits per character over ``ids`` (after its first character).

    Windows of the model's context overlap by half: after the first window, only a window's second half is
    scored, so every scored character has at least half a context before it (as it would in running text)."""
    model.eval()
    context, n = model.context, len(ids)
    if n < 2:
        raise ValueError("validation text of fewer than 2 characters")
    length = min(context, n - 1)
    half = max(1, length // 2)
    starts = list(range(0, n - 1 - length + 1, half))
    if starts[-1] != n - 1 - length:
        starts.append(n - 1 - length)
    total, count, scored_to = 0.0, 0, 0  # scored_to: the last character scored so far
    for i in range(0, len(starts), batch_size):
        chunk = torch.tensor(starts[i : i + batch_size])
        x, y = windows(ids, chunk, length)
        losses = F.cross_entropy(model(x).transpose(1, 2), y, reduction="none")  # (B, length)
        for row, start in enumerate(chunk.tolist()):
            first = max(scored_to - start, 0)  # y[j] is character start + 1 + j: skip those scored already
            total += float(losses[row, first:].sum())
            count += length - first
            scored_to = start + length
    model.train()
    return total / count * BITS


@torch.no_grad()
def student_batch(
    student: CharTransformer, ids: torch.Tensor, config: LanguageConfig, generator: torch.Generator
) -> tuple[torch.Tensor, int]:
    """An on-policy batch: prompts (the first half of windows from ``ids``) continued by the student's own samples
    at the generation temperature; returns the windows (B, context + 1) and where the generated part starts."""
    prompt = max(1, config.context // 2)
    tokens, _ = draw_batch(ids, config.batch_size, prompt, generator)
    student.eval()
    tokens = student.generate(tokens, config.context + 1 - prompt, config.generation_temperature, generator)
    student.train()
    return tokens, prompt


@torch.no_grad()
def teacher_text(teacher: TrainedModel, corpus: Corpus, seed: int) -> torch.Tensor:
    """Sequence-level KD's training text: the teacher's samples at T = 1, TEACHER_TEXT_STREAMS texts side by side,
    each started from one character of the corpus: ids (TEACHER_TEXT_STREAMS, TEACHER_TEXT_LENGTH + 1), one text a row
    (a training window never straddles two texts)."""
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(corpus.train), (TEACHER_TEXT_STREAMS,), generator=generator)
    teacher.model.eval()
    return teacher.model.generate(corpus.train[starts].unsqueeze(1), TEACHER_TEXT_LENGTH, 1.0, generator)


class _Progress:
    """Step events, stored steps and evaluation rounds of one phase."""

    def __init__(self, phase: Phase, steps: int, eval_every: int, lr: float, on_event: EventCallback | None):
        self.phase, self.total, self.eval_every, self.lr, self.on_event = phase, steps, eval_every, lr, on_event
        self.rounds = -(-steps // eval_every)
        self.stride = stored_stride(steps)
        self.stored: list[StepRecord] = []
        self.evaluations: list[Evaluation] = []
        self.round_losses: list[float] = []

    def step(self, step: int, parts: dict[str, torch.Tensor]) -> None:
        loss = float(parts["total"].detach())
        if not math.isfinite(loss) or loss > 1e4:
            raise Diverged(self.phase, self.round(step), step, self.lr, loss)
        others = {name: float(value.detach()) for name, value in parts.items() if name != "total"}
        self.round_losses.append(loss)
        if (step - 1) % self.stride == 0:
            self.stored.append(StepRecord(self.phase, self.round(step), step, loss, others))
        if self.on_event is not None:
            event = ProgressEvent(
                self.phase, "step", self.round(step), self.rounds, step, self.total, loss, others, at=time.monotonic()
            )
            self.on_event(event)

    def round(self, step: int) -> int:
        return (step - 1) // self.eval_every + 1

    def evaluate(self, step: int, bits: float) -> None:
        self.evaluations.append(Evaluation(step, bits))
        mean = sum(self.round_losses) / max(1, len(self.round_losses))
        self.round_losses = []
        if self.on_event is not None:
            event = ProgressEvent(
                self.phase,
                "epoch",
                self.round(step),
                self.rounds,
                step,
                self.total,
                mean,
                {"validation_bits": bits},
                at=time.monotonic(),
            )
            self.on_event(event)


def _fit(
    model: CharTransformer,
    corpus: Corpus,
    config: LanguageConfig,
    phase: Phase,
    steps: int,
    lr: float,
    seed: int,
    teacher: CharTransformer | None,
    on_event: EventCallback | None,
    stop: StopFlag | None,
    train_ids: torch.Tensor | None = None,
) -> ModelReport:
    """Train ``model`` for ``steps`` AdamW steps under a one-cycle schedule; with a teacher, by the config's loss."""
    generator = torch.Generator().manual_seed(seed)
    ids = corpus.train if train_ids is None else train_ids
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.99), weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.2)
    loss = cross_entropy if teacher is None else make_loss(config.loss, config.loss_args)
    progress = _Progress(phase, steps, config.eval_every, lr, on_event)
    probe = corpus.validation[: PROGRESS_VALIDATION_CHARS + 1]
    if teacher is not None:
        teacher.eval()
    on_policy_batches, began = 0, time.perf_counter()
    model.train()
    for step in range(1, steps + 1):
        if stop is not None and stop.is_set():
            raise Cancelled(phase, [])
        lam = config.lam
        on_policy = (
            teacher is not None
            and config.on_policy > 0
            and bool(torch.rand((), generator=generator) < config.on_policy)
        )
        if on_policy:  # the student writes the batch; the teacher scores its generated half (GKD)
            tokens, prompt = student_batch(model, ids, config, generator)
            x, y = tokens[:, :-1], tokens[:, 1:]
            first, lam = prompt - 1, 1.0
            on_policy_batches += 1
        else:
            x, y = draw_batch(ids, config.batch_size, config.context, generator)
            first = 0
        logits = model(x)[:, first:]
        rows = logits.reshape(-1, logits.shape[-1])
        labels = y[:, first:].reshape(-1)
        if teacher is None:
            parts = loss(rows, None, labels, config.temperature, lam)
        else:
            with torch.no_grad():  # the teacher's forward pass: the cost of a KD step beyond a scratch one
                teacher_rows = teacher(x)[:, first:].reshape(-1, logits.shape[-1])
            parts = loss(rows, teacher_rows, labels, config.temperature, lam)
        optimizer.zero_grad(set_to_none=True)
        parts["total"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        progress.step(step, parts)
        if step % config.eval_every == 0 or step == steps:
            progress.evaluate(step, validation_bits(model, probe))
    seconds = time.perf_counter() - began
    bits = validation_bits(model, corpus.validation)
    return ModelReport(
        phase,
        model.size,
        parameter_count(model),
        bits,
        tuple(progress.stored),
        tuple(progress.evaluations),
        seconds,
        on_policy_batches=on_policy_batches,
    )


# ---- the three models ------------------------------------------------------------------------------------------


def train_teacher(
    config: LanguageConfig,
    cache: TeacherCache | None = None,
    on_event: EventCallback | None = None,
    stop: StopFlag | None = None,
    data_dir: str | os.PathLike | None = None,
) -> TrainedModel:
    """The teacher for ``config``: from ``cache`` (default: the usual teacher cache) when one with the same
    settings was trained on the same corpus bytes, else trained now (one thread) and stored there."""
    config = validate(config)
    corpus = load_corpus(config.corpus, data_dir)
    corpus.check_context(config.context)
    cache = cache if cache is not None else TeacherCache()
    key = teacher_key(config, corpus)
    with cache.claim(key, stop) as claimed:
        if not claimed:
            raise Cancelled("teacher", [])
        entry = cache.get(key)
        if entry is not None:
            model = seeded_model(corpus.vocabulary, config.context, config.teacher_size, config.teacher_seed)
            model.load_state_dict(entry["states"]["teacher"])
            model.eval()
            report = _report_from_meta(entry["meta"]["report"], config.teacher_size)
            if on_event is not None:  # replayed (steps == 0): the page draws the stored curve at once
                for row in report.steps:
                    on_event(row.event(-(-config.teacher_steps // config.eval_every)))
            return TrainedModel(model, report, key)
        with one_thread():
            model = seeded_model(corpus.vocabulary, config.context, config.teacher_size, config.teacher_seed)
            report = _fit(
                model, corpus, config, "teacher", config.teacher_steps, config.teacher_lr, config.teacher_seed,
                None, on_event, stop,
            )  # fmt: skip
        model.eval()
        cache.put(key, {"teacher": model.state_dict()}, {"report": report.to_dict(), "config": config.to_dict()})
    return TrainedModel(model, report, key)


def _report_from_meta(meta: dict, size: ModelSize) -> ModelReport:
    return ModelReport(
        meta["phase"],
        size,
        meta["parameters"],
        meta["validation_bits"],
        tuple(StepRecord.from_dict(row) for row in meta["steps"]),
        tuple(Evaluation(**row) for row in meta["evaluations"]),
        0.0,
        cached=True,
        on_policy_batches=meta.get("on_policy_batches", 0),
    )


_TEACHER_TEXTS: dict[str, torch.Tensor] = {}  # teacher key -> its samples (sequence-level KD), once per process


def train_student(
    config: LanguageConfig,
    teacher: TrainedModel | None,
    on_event: EventCallback | None = None,
    stop: StopFlag | None = None,
    data_dir: str | os.PathLike | None = None,
) -> TrainedModel:
    """A student of ``config``'s size and seed: distilled from ``teacher`` by the config's loss, on-policy fraction
    and sequence-level setting, or (``teacher`` None) from the corpus's characters alone — the scratch baseline."""
    config = validate(config)
    corpus = load_corpus(config.corpus, data_dir)
    corpus.check_context(config.context)
    train_ids = None
    if teacher is not None and config.sequence_level:
        train_ids = _TEACHER_TEXTS.get(teacher.key) if teacher.key is not None else None
        if train_ids is None:
            with one_thread():
                train_ids = teacher_text(teacher, corpus, config.teacher_seed)
            if teacher.key is not None:
                _TEACHER_TEXTS[teacher.key] = train_ids
    with one_thread():
        model = seeded_model(corpus.vocabulary, config.context, config.student_size, config.seed)
        phase: Phase = "student" if teacher is not None else "baseline"
        report = _fit(
            model, corpus, config, phase, config.steps, config.lr, config.seed,
            teacher.model if teacher is not None else None, on_event, stop, train_ids,
        )  # fmt: skip
    model.eval()
    return TrainedModel(model, report)
