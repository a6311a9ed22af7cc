"""The Language tab's words: what it shows before a run, the verdict over seeds in bits per character (lower is
better, so "helps" is a *negative* KD − scratch), and the mode picture's honest caption.  No Streamlit."""

from __future__ import annotations

from kd_core.stats import Interval

TITLE = "Distil a language model"
INTRO = (
    "A 4-layer character **teacher** learns to predict the next character of a text; a 1-layer **student** learns "
    "from the teacher's whole next-character distribution; the same student trained on the text alone (the "
    "**scratch student**) shows what the teacher adds. Models are scored in **bits per character** on text they "
    "never saw: how surprised they are by each next character. **Lower is better.**"
)
BEFORE_RUN = (
    "This tab's **Distill** trains the teacher (about a minute the first time, then from the server's cache) and, for "
    "each seed, a KD student and a scratch student side by side (a few seconds each). Then this tab shows: their "
    "validation curves live; the verdict over the seeds (KD − scratch in bits per character, with its 95 % "
    "interval and one dot per seed); the next-character probabilities after a prefix you type, with the true "
    "ones on the built-in corpus; and samples of each model's text. The picture below needs no training."
)
# Short, so that a select box at a third of 1024 px shows them whole; what they mean is in the help and captions.
CORPUS_WORDS = {"grammar": "Built-in sentences", "tinyshakespeare": "Tiny Shakespeare"}
CORPUS_HELP = (
    "What the models learn to write. Built-in sentences: a small grammar whose true next-character probabilities "
    "are known (drawn beside the bars). Tiny Shakespeare: 1 MB of plays, from this server's data folder."
)
LOSS_WORDS = {"kd": "Forward KL (KD)", "reverse-kl": "Reverse KL", "jsd": "JSD(β)"}
LOSS_HELP = (
    "How the student is pulled to the teacher's next-character distribution. Forward KL (Hinton's KD) covers "
    "every continuation the teacher allows; reverse KL (MiniLLM) seeks the teacher's likeliest; JSD(β) (GKD) is "
    "between the two, with the β of the picture below."
)
NO_SHAKESPEARE = (
    "Tiny Shakespeare is not on this server: its data folder has no tinyshakespeare/input.txt "
    "(start the server with KD_DATA_DIR set to a folder that holds it)."
)


def bits(value: float) -> str:
    return f"{value:.3f}"


def verdict_sentence(difference: Interval, seeds: int) -> str:
    """The verdict over seeds, worded so that a lower number reads as better (markdown)."""
    mean = f"{difference.mean:+.3f} bits per character"
    if difference.low is None:
        return (
            f"KD student − scratch student: **{mean}** on one seed. One seed cannot decide: run 2 or more "
            "(the lesson's 3) to get an interval."
        )
    span = f"95 % interval [{difference.low:+.3f}, {difference.high:+.3f}] over {seeds} seeds"
    if difference.high < 0:
        return (
            f"**Distillation helps**: the KD student needs **{-difference.mean:.3f} fewer bits per character** than "
            f"the scratch student ({span}: all of it below 0, and lower is better)."
        )
    if difference.low > 0:
        return (
            f"**Distillation hurts here**: the KD student needs **{difference.mean:.3f} more bits per character** "
            f"than the scratch student ({span}: all of it above 0, and lower is better)."
        )
    return (
        f"**No clear difference**: KD student − scratch student is {mean} ({span}), an interval that includes 0. "
        "More seeds, or more student steps, may tell them apart."
    )


def bars_caption(has_truth: bool, seed: int) -> str:
    text = (
        f"The teacher's, and seed {seed}'s students', probability of each next character after your prefix, "
        "softened at T (each model's logits ÷ T). The bars redraw at once at any T: nothing retrains."
    )
    if has_truth:
        text += " Green, hatched: the built-in language's true next-character probabilities (softened the same way)."
    return text


def sample_caption(temperature: float, grammar: bool) -> str:
    text = (
        f"Each model writes from the same first character at T = {temperature:g}. Entropy: how unsure the model "
        "was as it wrote (bits per character). Teacher's bits: how surprised the teacher is by the text (bits per "
        "character) — a student that writes what the teacher would write scores low."
    )
    if grammar:
        text += " Grammatical: the share of the sample's whole sentences that are sentences of the built-in language."
    return text


MODES_CAPTION = (
    "A teacher with two modes, and the one Gaussian each divergence picks when the student cannot fit both. "
    "**Forward KL** (KD) punishes the student wherever the teacher has mass and it has none, so it spreads over "
    "both modes; **reverse KL** punishes mass where the teacher has none, so it sits on one mode; **JSD(β)** moves "
    "between them as β goes from 0 to 1. Honestly: this is a student *without the capacity* for both modes — with "
    "enough capacity every divergence reaches the same answer, the teacher itself. A small language student is in "
    "between, which is why the losses differ in bits per character at all."
)
