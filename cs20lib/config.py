"""Hyperparameters in one object.

The lecture keeps its hyperparameters as module globals (``VOCAB_SIZE = 50000``, ``BATCH_SIZE = 128``,
...). :class:`Word2VecConfig` holds them in one frozen object whose defaults are the lecture's, checks
them, and names a run after the ones that shape the weights (:meth:`Word2VecConfig.run_name`, used by
:mod:`cs20lib.runs`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

__all__ = ["Word2VecConfig"]


@dataclasses.dataclass(frozen=True)
class Word2VecConfig:
    """Skip-gram hyperparameters; the defaults are the lecture's (``04_word2vec_visualize.py``).

    Names follow the lecture where it has one (``vocab_size``, ``embed_size``, ``skip_window``,
    ``num_sampled``) and word2vec's where it does not (``sample``, ``min_count``, ``power``).
    """

    # the lecture's
    vocab_size: int | None = 50_000  # vocabulary size, counting UNK (None: every word seen min_count times)
    batch_size: int = 128  # (center, target) pairs per step
    embed_size: int = 128  # embedding dimension
    skip_window: int = 1  # largest context window; each center draws 1..skip_window
    num_sampled: int = 64  # noise words per step: NCE samples, or negatives per pair
    learning_rate: float = 1.0  # SGD step size
    num_train_steps: int = 100_000  # steps (batches) of training
    skip_step: int = 5_000  # report the average loss and checkpoint every this many steps
    # beyond the lecture
    loss: str = "nce"  # "nce" (tf.nn.nce_loss, the lecture's) or "negative" (word2vec's negative sampling)
    power: float = 0.75  # negative sampling draws noise words from unigram ** power (Mikolov et al. 2013b)
    sample: float = 0.0  # subsampling threshold t (word2vec: 1e-3; 0: off, the lecture's)
    min_count: int = 1  # drop words seen fewer times (word2vec: 5)
    keep_unk: bool = True  # train on UNK tokens like any word (lecture); False drops them first (word2vec)
    batching: str = "pairs"  # "pairs": batch_size pairs per step; "windows": batch_size centers with their windows (negative loss only)
    lr_decay: str = "none"  # "none" or "linear" (to min_learning_rate at num_train_steps, as word2vec)
    min_learning_rate: float = 1e-4
    init: str = "uniform"  # embedding init: "uniform" in [-1, 1) (lecture's intent) or "word2vec" ([-0.5, 0.5) / embed_size)
    seed: int = 0
    corpus: str = "text8"  # name of the corpus the run trains on
    max_words: int | None = None  # only the first N words of the corpus

    #: fields that do not change what a given step's weights are: a run may be resumed with other values
    RESUMABLE = ("num_train_steps", "skip_step")

    def __post_init__(self) -> None:
        problems = []
        if self.vocab_size is not None and (not isinstance(self.vocab_size, int) or self.vocab_size < 2):
            problems.append(f"vocab_size must be an integer >= 2 or None, not {self.vocab_size!r}")
        for name in ("batch_size", "embed_size", "skip_window", "num_sampled", "num_train_steps", "skip_step", "min_count"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append(f"{name} must be a positive integer, not {value!r}")
        if not self.learning_rate > 0:
            problems.append(f"learning_rate must be > 0, not {self.learning_rate!r}")
        if self.loss not in ("nce", "negative"):
            problems.append(f"loss must be 'nce' or 'negative', not {self.loss!r}")
        if self.batching not in ("pairs", "windows"):
            problems.append(f"batching must be 'pairs' or 'windows', not {self.batching!r}")
        elif self.batching == "windows" and self.loss != "negative":
            problems.append("batching='windows' shares negatives within a window: it needs loss='negative'")
        if self.lr_decay not in ("none", "linear"):
            problems.append(f"lr_decay must be 'none' or 'linear', not {self.lr_decay!r}")
        if self.init not in ("uniform", "word2vec"):
            problems.append(f"init must be 'uniform' or 'word2vec', not {self.init!r}")
        if self.sample < 0:
            problems.append(f"sample must be >= 0, not {self.sample!r}")
        if self.max_words is not None and (not isinstance(self.max_words, int) or self.max_words < 2):
            problems.append(f"max_words must be an integer >= 2 or None, not {self.max_words!r}")
        if problems:
            raise ValueError("; ".join(problems))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Word2VecConfig":
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown settings {unknown}; known: {sorted(known)}")
        return cls(**values)

    def replace(self, **changes) -> "Word2VecConfig":
        return dataclasses.replace(self, **changes)

    def weights_key(self) -> dict:
        """The settings that determine the weights at a given step: all but RESUMABLE ones, and
        ``num_train_steps`` too when the learning rate decays over it."""
        resumable = set(self.RESUMABLE)
        if self.lr_decay == "linear":
            resumable.discard("num_train_steps")
        return {name: value for name, value in self.to_dict().items() if name not in resumable}

    def run_name(self, model: str) -> str:
        """A readable, unique directory name: the main settings, then a hash of all weight-shaping ones."""
        key = json.dumps({"model": model, **self.weights_key()}, sort_keys=True)
        digest = hashlib.sha256(key.encode()).hexdigest()[:8]
        words = f"-{self.max_words}w" if self.max_words else ""
        return (
            f"{model}-{self.corpus}{words}-v{self.vocab_size or f'min{self.min_count}'}-d{self.embed_size}-w{self.skip_window}-"
            f"{self.loss}{self.num_sampled}-lr{self.learning_rate:g}-b{self.batch_size}-s{self.seed}-{digest}"
        )
