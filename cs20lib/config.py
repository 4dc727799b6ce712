"""Hyperparameters in one object, and the two named recipes.

The lecture keeps its hyperparameters as module globals (``VOCAB_SIZE = 50000``, ``BATCH_SIZE = 128``,
...). :class:`Word2VecConfig` holds them in one frozen object whose defaults are the lecture's and
checks them. :data:`PRESETS` names two complete recipes: ``lecture`` (exactly the lecture's settings and
its 100,000 steps) and ``word2vec`` (the recipe of the word2vec tool, Mikolov et al. 2013b, sized to
train good vectors on text8 in a few minutes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re

from . import checks

__all__ = ["PRESETS", "Preset", "Word2VecConfig"]

#: the largest seed: NumPy, TensorFlow's graph-level and stateless seeds all take it
MAX_SEED = 2**31 - 1


@dataclasses.dataclass(frozen=True)
class Word2VecConfig:
    """Skip-gram hyperparameters; the defaults are the lecture's (``04_word2vec_visualize.py``).

    Names follow the lecture where it has one (``vocab_size``, ``embed_size``, ``skip_window``,
    ``num_sampled``) and the word2vec tool's where it does not (``negative``, ``sample``, ``min_count``).
    """

    # the lecture's
    vocab_size: int | None = 50_000  # vocabulary size, counting UNK (None: every word seen min_count times)
    batch_size: int = 128  # (center, target) pairs per step; with batching="windows", centers per step
    embed_size: int = 128  # embedding dimension
    skip_window: int = 1  # largest context window; each center draws 1..skip_window
    num_sampled: int = 64  # NCE: noise words per batch (tf.nn.nce_loss's num_sampled)
    learning_rate: float = 1.0  # SGD step size
    num_train_steps: int = 100_000  # steps (batches) of training
    skip_step: int = 5_000  # report the average loss and checkpoint every this many steps
    # beyond the lecture
    loss: str = "nce"  # "nce" (tf.nn.nce_loss, the lecture's) or "negative" (word2vec's negative sampling)
    negative: int = 5  # negative sampling: noise words per pair (word2vec's -negative)
    power: float = 0.75  # negative sampling draws noise words from unigram ** power (Mikolov et al. 2013b)
    sample: float = 0.0  # subsampling threshold t (word2vec: 1e-3; 0: off, the lecture's)
    min_count: int = 1  # drop words seen fewer times (word2vec: 5)
    keep_unk: bool = True  # train on UNK tokens like any word (lecture); False drops them first (word2vec)
    batching: str = "pairs"  # "pairs": batch_size pairs per step; "windows": batch_size centers with their windows
    lr_decay: str = "none"  # "none" or "linear" (to min_learning_rate at num_train_steps, as word2vec)
    min_learning_rate: float = 1e-4
    init: str = "uniform"  # "uniform": [-1, 1) (the 2017 lecture code; 2018 drew from [0, 1), notebook 03) or
    # "word2vec": [-0.5, 0.5) / embed_size
    seed: int = 0
    # how negative sampling's step is computed (cs20lib.fused_op), not which step: see EXECUTION
    # "tf" (TensorFlow's ops), "fused" (the custom op on NumPy's batches), "loop" (the custom op making its own
    # windows and noise words, as word2vec's loop), "auto" (loop for window batches, else fused, where the op
    # builds; else tf)
    kernel: str = "tf"
    hogwild: bool = False  # fused op: rows split over threads without locks (not bit-reproducible; BENCHMARKS.md)
    fused_update: str = "pairs"  # fused op: "pairs", each pair's step at once (word2vec); "rows" (HogBatch)
    # the data
    corpus: str = "text8"  # name of the corpus the run trains on
    corpus_fingerprint: str = ""  # content hash of the words trained on (Corpus.fingerprint)
    max_words: int | None = None  # only the first N words of the corpus

    #: fields that do not change what a given step's weights are: a run may be resumed with other values
    RESUMABLE = ("num_train_steps", "skip_step")
    #: fields that choose how a step is computed, not the step: the same SGD on the same loss, the updates
    #: applied in another order (cs20lib.fused_op); not part of the run's name, and a run may be resumed
    #: with other values (then not bit for bit)
    EXECUTION = ("kernel", "hogwild", "fused_update")

    def __post_init__(self) -> None:
        problems = []

        def check(function, *args, **kwargs):
            try:
                function(*args, **kwargs)
            except ValueError as error:
                problems.append(str(error))

        if self.vocab_size is not None:
            check(checks.integer, "vocab_size", self.vocab_size, 2)
        for name in (
            "batch_size",
            "embed_size",
            "num_sampled",
            "num_train_steps",
            "skip_step",
            "min_count",
            "negative",
        ):
            check(checks.integer, name, getattr(self, name), 1)
        check(checks.integer, "skip_window", self.skip_window, 1, 127)
        check(checks.integer, "seed", self.seed, 0, MAX_SEED)
        check(checks.real, "learning_rate", self.learning_rate, above=0.0)
        check(checks.real, "min_learning_rate", self.min_learning_rate, 0.0)
        check(checks.real, "power", self.power, 0.0)
        check(checks.real, "sample", self.sample, 0.0)
        if self.max_words is not None:
            check(checks.integer, "max_words", self.max_words, 2)
        for name, allowed in (
            ("loss", LOSSES),
            ("batching", BATCHINGS),
            ("lr_decay", LR_DECAYS),
            ("init", INITS),
            ("kernel", KERNELS),
            ("fused_update", FUSED_UPDATES),
        ):
            if getattr(self, name) not in allowed:
                problems.append(f"{name} must be one of {', '.join(map(repr, allowed))}, not {getattr(self, name)!r}")
        if self.batching == "windows" and self.loss != "negative":
            problems.append("batching='windows' shares negatives within a window: it needs loss='negative'")
        for name in ("keep_unk", "hogwild"):
            if not isinstance(getattr(self, name), bool):
                problems.append(f"{name} must be True or False, not {getattr(self, name)!r}")
        if problems:
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Word2VecConfig:
        """A config from :meth:`to_dict`'s output; unknown names are an error, missing ones take defaults."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown settings {unknown}; known: {sorted(known)}")
        return cls(**values)

    def replace(self, **changes) -> Word2VecConfig:
        return dataclasses.replace(self, **changes)

    def weights_key(self) -> dict:
        """The settings that determine the weights at a given step.

        All but the RESUMABLE and EXECUTION ones, with ``num_train_steps`` back in when the learning rate decays over
        it, and without the settings the chosen loss or schedule never reads.
        """
        unused = set(self.RESUMABLE) | set(self.EXECUTION)
        if self.lr_decay == "linear":
            unused.discard("num_train_steps")
        else:
            unused.add("min_learning_rate")
        unused |= {"negative", "power"} if self.loss == "nce" else {"num_sampled"}
        return {name: value for name, value in self.to_dict().items() if name not in unused}

    @property
    def pair_learning_rate(self) -> float:
        """The step one (input, output) pair gets in negative sampling: ``learning_rate / batch_size`` (the rate is
        that of the batch-mean loss, so the word2vec preset's 0.025 * 2048 is word2vec's 0.025 per pair)."""
        return self.learning_rate / self.batch_size

    def noise_words(self) -> int:
        """Noise words the loss draws: ``num_sampled`` per batch (NCE) or ``negative`` per pair."""
        return self.num_sampled if self.loss == "nce" else self.negative

    def run_name(self, api: str) -> str:
        """A readable directory name, at most ~120 bytes: the main settings, then a hash of every setting
        that shapes the weights (corpus content included), so other settings never share a directory."""
        key = json.dumps({"api": api, **self.weights_key()}, sort_keys=True)
        digest = hashlib.sha256(key.encode()).hexdigest()[:8]
        corpus = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.corpus)[:32] or "corpus"
        words = f"-{self.max_words}w" if self.max_words else ""
        vocab = self.vocab_size or f"min{self.min_count}"
        return (
            f"{api}-{corpus}{words}-v{vocab}-d{self.embed_size}-w{self.skip_window}-{self.loss}{self.noise_words()}-"
            f"lr{self.learning_rate:g}-b{self.batch_size}-s{self.seed}-{digest}"
        )


LOSSES = ("nce", "negative")
BATCHINGS = ("pairs", "windows")
#: where the TF2 trainer runs (``train --strategy``; :func:`cs20lib.experiment.train`): one process
#: (TensorFlow's default strategy), replicas on one machine, parameter servers and workers, replicas on
#: several machines. Not a setting of the run: it does not change what the run directory is called.
STRATEGIES = ("default", "mirrored", "parameter-server", "multi-worker")
LR_DECAYS = ("none", "linear")
INITS = ("uniform", "word2vec")
KERNELS = ("tf", "fused", "loop", "auto")  # negative sampling's step: cs20lib.fused_op
FUSED_UPDATES = ("pairs", "rows")  # the fused op's arithmetic: cs20lib.fused_op


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named recipe: settings for :class:`Word2VecConfig`, and how long to train (steps or epochs)."""

    name: str
    description: str
    settings: dict
    epochs: float | None = None  # train this many passes over the corpus instead of settings' num_train_steps

    def config(self, **overrides) -> Word2VecConfig:
        """The recipe's config with ``overrides`` on top. Another ``batch_size`` without a ``learning_rate``
        keeps the recipe's rate per pair (negative sampling's step is ``learning_rate / batch_size`` a pair),
        as ``--batch-size`` does on the command line."""
        settings = {**self.settings, **overrides}
        rescale = "batch_size" in overrides and "learning_rate" not in overrides
        if rescale and settings.get("loss") == "negative" and "learning_rate" in self.settings:
            pair_rate = self.settings["learning_rate"] / self.settings.get("batch_size", 128)
            settings["learning_rate"] = pair_rate * settings["batch_size"]
        return Word2VecConfig(**settings)


#: The recipes ``python -m cs20lib train --preset NAME`` starts from (explicit flags override them).
PRESETS = {
    "lecture": Preset(
        "lecture",
        "the lecture's run: NCE with 64 noise words per batch, window 1, 50,000 words, batches of 128 pairs, "
        "learning rate 1.0, 100,000 steps (what notebook 02 teaches; its vectors are mostly noise)",
        {},
    ),
    "word2vec": Preset(
        "word2vec",
        "word2vec's recipe (Mikolov et al. 2013b): negative sampling with 5 noise words, window 5, words seen "
        "5 times, subsampling 1e-3, learning rate 0.025 per pair decaying linearly, 5 epochs, gensim's defaults",
        {
            "vocab_size": None,
            "min_count": 5,
            "keep_unk": False,
            "loss": "negative",
            "negative": 5,
            "skip_window": 5,
            "sample": 1e-3,
            "batching": "windows",
            "batch_size": 2048,
            "learning_rate": 0.025 * 2048,
            "lr_decay": "linear",
            "embed_size": 128,
            "init": "word2vec",
            "skip_step": 2_000,
            # word2vec's loop as one op, a row's pairs together, on every core (BENCHMARKS.md, issue 24)
            "kernel": "auto",
            "fused_update": "rows",
            "hogwild": True,
        },
        epochs=5,
    ),
}
