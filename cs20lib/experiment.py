"""One experiment end to end: corpus -> vocabulary -> training -> evaluation, projector and t-SNE.

This is what ``python -m cs20lib train`` (``make demo``) runs, as plain functions a notebook can call
one at a time: :func:`prepare_data`, :func:`steps_per_epoch`, :func:`train`, :func:`finish_run` (and
:func:`describe_run` to print the results). Everything a run writes goes into its run directory
(:mod:`cs20lib.runs`).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from . import runs
from .config import Word2VecConfig
from .corpus import Corpus, load_corpus
from .projector import NUM_VISUALIZE
from .skipgram import SkipGramStream
from .tsne import TSNE_WORDS
from .vocab import Vocabulary

__all__ = [
    "PROBE_WORDS",
    "TrainingData",
    "describe_run",
    "evaluation_files",
    "finish_run",
    "load_run",
    "prepare_data",
    "steps_per_epoch",
    "train",
]

#: words whose nearest neighbours a run prints (those in the vocabulary)
PROBE_WORDS = {
    "toy": ["king", "woman", "paris", "japan", "walked", "swim"],
    "default": ["king", "france", "computer", "war", "two", "music", "water", "german"],
}


@dataclasses.dataclass
class TrainingData:
    """A corpus, its vocabulary and the corpus encoded as ids: what a model trains on."""

    corpus: Corpus
    vocab: Vocabulary
    ids: np.ndarray
    seconds: float  # reading + vocabulary building


def prepare_data(
    config: Word2VecConfig, source=None, *, fallback_to_toy: bool = True, progress: bool = True
) -> tuple[TrainingData, Word2VecConfig]:
    """Load the corpus, build the vocabulary, encode the words.

    Returns the data and the config with ``corpus`` and ``corpus_fingerprint`` set to the corpus
    actually used (the toy corpus when text8 is unavailable offline and ``fallback_to_toy``).
    """
    import warnings

    start = time.perf_counter()
    corpus = load_corpus(
        source, config.max_words, fallback_to_toy=fallback_to_toy and source is None, progress=progress
    )
    with warnings.catch_warnings():
        if corpus.name == "toy":  # the lecture's 50,000 exceeds the toy corpus's few hundred words
            warnings.filterwarnings("ignore", message="vocab_size=")
        vocab = Vocabulary.build(corpus.words, config.vocab_size, config.min_count)
    ids = vocab.encode(corpus.words)
    config = config.replace(corpus=corpus.name, corpus_fingerprint=corpus.fingerprint)
    return TrainingData(corpus, vocab, ids, time.perf_counter() - start), config


def steps_per_epoch(config: Word2VecConfig, data: TrainingData) -> float:
    """How many training steps one pass over the data takes with ``config`` (after dropping UNK and
    subsampling): pairs / batch size, or centers / batch size with ``batching="windows"``.

    Raises ValueError when the data do not fill a single batch: nothing could be trained.
    """
    units = "pairs" if config.batching == "pairs" else "words"
    if not config.keep_unk and len(data.vocab) < 2:
        raise ValueError(
            f"the vocabulary holds no word besides UNK (min_count={config.min_count}, vocab_size="
            f"{config.vocab_size}), and UNK is dropped: there is nothing to train on. Lower --min-count."
        )
    stream = SkipGramStream.from_config(config, data.ids, data.vocab.counts)
    steps = stream.batches_per_epoch(config.batching)
    if steps < 1:
        raise ValueError(
            f"one pass over the corpus gives {round(steps * config.batch_size):,} {units}, fewer than one batch of "
            f"{config.batch_size}: there is nothing to train on. Use a larger corpus or a smaller --batch-size"
            + (" (or keep UNK, lower --min-count)" if not config.keep_unk else "")
            + "."
        )
    return steps


def train(
    config: Word2VecConfig,
    data: TrainingData,
    *,
    api: str = "tf2",
    run_dir=None,
    root="runs",
    progress: bool | None = False,
    verbose: bool = True,
    strategy: str = "default",
    **distribution,
) -> Path:
    """Train with ``api`` ("tf2": the tf.Module trainer; "tf1": the lecture's graph model) to
    ``config.num_train_steps`` in ``run_dir`` (default: named after the settings under ``root``),
    resuming from its checkpoints. Returns the run directory.

    ``strategy`` and ``distribution`` (``workers``, ``ps``, ``devices``) choose where the TF2 trainer runs:
    :func:`cs20lib.distributed.trainer_for`. The run directory does not depend on them: a run can be
    continued on one process, replicas or a cluster alike."""
    run_dir = Path(run_dir) if run_dir is not None else runs.run_dir_for(config, api, root)
    steps_per_epoch(config, data)  # refuses data that cannot fill a batch
    if api == "tf2":
        from .distributed import trainer_for

        with trainer_for(
            strategy, config, data, run_dir, verbose=verbose, progress=progress, **distribution
        ) as trainer:
            if verbose:
                for note in trainer.notes:
                    print(note)
                if trainer.restored_from:
                    print(f"resuming from {trainer.restored_from} (step {int(trainer.step.numpy()):,})")
            trainer.train()
    elif strategy != "default":
        raise ValueError("--strategy runs the TF2 trainer (--model tf2); the lecture's graph model runs on one process")
    elif api == "tf1":
        from .tf1_model import SkipGramModel

        if config.loss != "nce" or config.lr_decay != "none" or config.sample or not config.keep_unk:
            raise ValueError(
                "the lecture's graph model (--model tf1) trains with its own settings only: NCE loss, constant "
                "learning rate, no subsampling, UNK kept"
            )
        runs.open_run(run_dir, config, api, data.vocab)
        graph_model = SkipGramModel.from_config(config, data, run_dir, verbose=verbose, progress=progress)
        done = graph_model.current_step()
        if verbose and done:
            print(f"resuming from step {done:,}")
        if done < config.num_train_steps:
            graph_model.train(config.num_train_steps - done)
    else:
        raise ValueError(f"api must be 'tf2' or 'tf1', not {api!r}")
    return run_dir


def evaluation_files(config: Word2VecConfig, run_dir, analogies=None, wordsim=None) -> tuple[Path, Path | None]:
    """The analogy and word-similarity files for a run: given ones, else Google's set and WordSim-353;
    the toy corpus has its own analogies and no WordSim (unless one is given)."""
    from .evaluation import ANALOGIES_FILE, WORDSIM_FILE, eval_data_path

    for path in (analogies, wordsim):
        if path is not None and not Path(path).is_file():
            what = "a folder" if Path(path).is_dir() else "missing"
            raise FileNotFoundError(f"evaluation file {path} is {what}; pass the path of a file.")
    if config.corpus == "toy":
        if analogies is None:
            from .toy_corpus import write_toy_analogies

            analogies = write_toy_analogies(Path(run_dir) / "toy_analogies.txt")
        return Path(analogies), Path(wordsim) if wordsim is not None else None
    return Path(analogies or eval_data_path(ANALOGIES_FILE)), Path(wordsim or eval_data_path(WORDSIM_FILE))


def finish_run(
    run_dir,
    *,
    num_visualize: int = NUM_VISUALIZE,
    tsne_words: int = TSNE_WORDS,
    analogies=None,
    wordsim=None,
    restrict_vocab: int = 30_000,
) -> dict:
    """Evaluate a trained run and write ``metrics.json``, ``projector/`` and ``tsne.png`` (unless
    ``tsne_words`` is 0) into it; returns the metrics."""
    from .evaluation import evaluate_analogies, evaluate_wordsim, write_metrics
    from .projector import export_projector
    from .tsne import plot_tsne

    run_dir = Path(run_dir)
    api, config, vocab, embeddings = load_run(run_dir)
    analogies, wordsim = evaluation_files(config, run_dir, analogies, wordsim)
    metrics = {"analogies": evaluate_analogies(embeddings, vocab, analogies, restrict_vocab=restrict_vocab)}
    if wordsim is not None:
        metrics["wordsim"] = evaluate_wordsim(embeddings, vocab, wordsim)
    write_metrics(run_dir / "metrics.json", metrics)
    export_projector(run_dir / "projector", embeddings, vocab, num_visualize, form=api)
    if tsne_words:
        words = min(tsne_words, len(vocab) - 1)
        plot_tsne(
            embeddings,
            vocab,
            run_dir / "tsne.png",
            n_words=words,
            seed=config.seed,
            title=f"t-SNE of the {words:,} most frequent words ({api} model, {config.corpus})",
        )
    return metrics


def describe_run(run_dir, metrics: dict | None = None, probe_words=None, k: int = 8) -> str:
    """Nearest neighbours of probe words, the evaluation figures and how to open TensorBoard."""
    from .evaluation import format_metrics, nearest_neighbours_many

    run_dir = Path(run_dir)
    _, config, vocab, embeddings = load_run(run_dir)
    words = [w for w in probe_words or PROBE_WORDS["toy" if config.corpus == "toy" else "default"] if w in vocab]
    lines = ["nearest neighbours (cosine):"]
    for word, neighbours in nearest_neighbours_many(embeddings, vocab, words, k).items():
        lines.append(f"  {word:>10}: " + ", ".join(f"{w} {s:.2f}" for w, s in neighbours))
    if metrics:
        lines += ["", format_metrics(metrics)]
    lines += ["", f"run directory: {run_dir}", f"open it:       tensorboard --logdir {run_dir}"]
    return "\n".join(lines)


def load_run(run_dir) -> tuple[str, Word2VecConfig, Vocabulary, np.ndarray]:
    """(api, config, vocabulary, embeddings) of a trained run."""
    run_dir = Path(run_dir)
    api, config = runs.read_run_config(run_dir)
    path = run_dir / runs.VOCAB_FILE
    if not path.is_file():
        raise runs.RunError(f"{run_dir} has no {runs.VOCAB_FILE}; train it first: {runs.train_command(run_dir)}")
    vocab = Vocabulary.load(path)
    return api, config, vocab, runs.load_embeddings(run_dir)
