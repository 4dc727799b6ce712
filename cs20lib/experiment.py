"""One experiment end to end: corpus -> vocabulary -> training -> evaluation, projector and t-SNE.

This is what ``python -m cs20lib train`` (``make demo``) runs, as plain functions a notebook can call
one at a time: :func:`prepare_data`, :func:`plan`, :func:`train`, :func:`finish_run` (and
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
from .tsne import TSNE_WORDS
from .vocab import Vocabulary

__all__ = [
    "PROBE_WORDS",
    "TrainingData",
    "describe_run",
    "evaluation_files",
    "finish_run",
    "load_run",
    "plan",
    "prepare_data",
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

    def release_words(self) -> None:
        """Free the corpus's word list: training needs only the ids (a long run's memory; BENCHMARKS.md)."""
        self.corpus.release_words()

    def release(self) -> None:
        """Free the words and the ids once training is done: evaluating a run needs only the vocabulary."""
        self.release_words()
        self.ids = np.empty(0, dtype=np.int32)


def prepare_data(
    config: Word2VecConfig,
    source=None,
    *,
    fallback_to_toy: bool = True,
    progress: bool = True,
    compact: bool = False,
) -> tuple[TrainingData, Word2VecConfig]:
    """Load the corpus, build the vocabulary, encode the words.

    Returns the data and the config with ``corpus`` and ``corpus_fingerprint`` set to the corpus
    actually used (the toy corpus when text8 is unavailable offline and ``fallback_to_toy``).
    ``compact=True`` reads a file without a list of its words (:func:`cs20lib.corpus.read_codes`): the same
    vocabulary and ids in a fraction of the memory, and ``data.corpus.words`` is None.
    """
    import warnings

    start = time.perf_counter()
    corpus = load_corpus(
        source,
        config.max_words,
        fallback_to_toy=fallback_to_toy and source is None,
        progress=progress,
        compact=compact,
    )
    with warnings.catch_warnings():
        if corpus.name == "toy":  # the lecture's 50,000 exceeds the toy corpus's few hundred words
            warnings.filterwarnings("ignore", message="vocab_size=")
        if corpus.words is None:  # compact: counted from the codes, encoded without a word list
            counts = np.bincount(corpus.codes, minlength=len(corpus.distinct))
            vocab = Vocabulary.from_counts(corpus.distinct, counts, config.vocab_size, config.min_count)
            ids = vocab.encode_codes(corpus.codes, corpus.distinct)
        else:
            vocab = Vocabulary.build(corpus.words, config.vocab_size, config.min_count)
            ids = vocab.encode(corpus.words)
    config = config.replace(corpus=corpus.name, corpus_fingerprint=corpus.fingerprint)
    return TrainingData(corpus, vocab, ids, time.perf_counter() - start), config


def plan(config: Word2VecConfig, data: TrainingData, *, epochs: float | None = None):
    """The run's :class:`~cs20lib.training.TrainingPlan`, made once: the stream it trains on, how many steps an
    epoch is (after dropping UNK and subsampling), and ``epochs`` turned into ``num_train_steps``.

    Raises ValueError when the data do not fill a single batch: nothing could be trained.
    """
    from .training import TrainingPlan

    return TrainingPlan.make(config, data.ids, data.vocab, epochs=epochs)


def train(
    settings,
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
    resuming from its checkpoints. ``settings`` is the run's :class:`~cs20lib.training.TrainingPlan` or its
    config (then the plan is made here). Returns the run directory.

    ``strategy`` and ``distribution`` (``workers``, ``ps``, ``devices``) choose where the TF2 trainer runs:
    ``default`` is this process (:mod:`cs20lib.training`); the others take a runner from
    :func:`cs20lib.distributed.runner_for`. The run directory does not depend on them: a run can be
    continued on one process, replicas or a cluster alike."""
    run_plan = settings if not isinstance(settings, Word2VecConfig) else plan(settings, data)
    config = run_plan.config
    run_dir = Path(run_dir) if run_dir is not None else runs.run_dir_for(config, api, root)
    if api not in runs.APIS:
        raise ValueError(f"api must be 'tf2' or 'tf1', not {api!r}")
    if api == "tf1" and strategy != "default":
        raise ValueError("--strategy runs the TF2 trainer (--api tf2); the lecture's graph model runs on one process")
    if api == "tf1":
        _train_graph_model(run_plan, data, run_dir, verbose=verbose, progress=progress)
    elif strategy == "default":
        _train(run_plan, data, run_dir, None, verbose=verbose, progress=progress)
    else:
        from .distributed import check_parameter_server_config, runner_for, worker_scratch

        if strategy == "parameter-server":
            check_parameter_server_config(config)  # before any task starts
        with runner_for(strategy, **distribution) as runner:
            _train(run_plan, data, run_dir, runner, verbose=verbose, progress=progress, around=worker_scratch)
    return run_dir


def _train(run_plan, data, run_dir, runner, *, verbose, progress, around=None) -> None:
    from .training import Trainer

    trainer = Trainer(
        run_plan.config, data.vocab, data.ids, run_dir, plan=run_plan, runner=runner, verbose=verbose, progress=progress
    )
    if verbose:
        for note in trainer.notes:
            print(note)
        if trainer.restored_from:
            print(f"resuming from {trainer.restored_from} (step {int(trainer.step.numpy()):,})")
    if around is None:
        trainer.train()
    else:
        with around(trainer):
            trainer.train()
    trainer.close()


def _train_graph_model(run_plan, data, run_dir, *, verbose, progress) -> None:
    from .tf1_model import SkipGramModel

    config = run_plan.config
    if config.loss != "nce" or config.lr_decay != "none" or config.sample or not config.keep_unk:
        raise ValueError(
            "the lecture's graph model (--api tf1) trains with its own settings only: NCE loss, constant "
            "learning rate, no subsampling, UNK kept"
        )
    graph_model = SkipGramModel.from_config(
        config, data, run_dir, stream=run_plan.stream, verbose=verbose, progress=progress
    )
    done = graph_model.current_step()
    if verbose and done:
        print(f"resuming from step {done:,}")
    if done < config.num_train_steps:
        graph_model.train(config.num_train_steps - done)


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
    restrict_vocab: int | None = None,
) -> dict:
    """Evaluate a trained run and write ``metrics.json``, ``projector/`` and ``tsne.png`` (unless
    ``tsne_words`` is 0) into it; returns the metrics."""
    from .evaluation import RESTRICT_VOCAB, evaluate_analogies, evaluate_wordsim, write_metrics
    from .projector import export_projector
    from .tsne import plot_tsne

    restrict_vocab = RESTRICT_VOCAB if restrict_vocab is None else restrict_vocab
    run_dir = Path(run_dir)
    api, config, vocab, embeddings = load_run(run_dir)
    analogies, wordsim = evaluation_files(config, run_dir, analogies, wordsim)
    metrics = {"analogies": evaluate_analogies(embeddings, vocab, analogies, restrict_vocab=restrict_vocab)}
    if wordsim is not None:
        metrics["wordsim"] = evaluate_wordsim(embeddings, vocab, wordsim)
    write_metrics(run_dir / "metrics.json", metrics)
    export_projector(run_dir / "projector", embeddings, vocab, num_visualize, api=api)
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
