"""One experiment end to end: corpus -> vocabulary -> training -> evaluation, projector and t-SNE.

This is what ``python -m cs20lib train`` (``make demo``) runs, as plain functions a notebook can call
one at a time: :func:`prepare_data`, :func:`train`, :func:`finish_run` (and :func:`describe_run` to
print the results). Everything a run writes goes into its run directory (:mod:`cs20lib.runs`).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from .config import Word2VecConfig
from .corpus import Corpus, load_corpus
from .runs import VOCAB_FILE, load_embeddings, read_run_config, run_dir_for, write_run_config
from .vocab import UnknownWordError, Vocabulary

__all__ = ["PROBE_WORDS", "Data", "describe_run", "evaluate_run", "finish_run", "load_run", "prepare_data", "train"]

#: words whose nearest neighbours a run prints (those in the vocabulary)
PROBE_WORDS = {
    "toy": ["king", "woman", "paris", "japan", "walked", "swim"],
    "default": ["king", "france", "computer", "war", "two", "music", "water", "german"],
}


@dataclasses.dataclass
class Data:
    corpus: Corpus
    vocab: Vocabulary
    ids: np.ndarray
    seconds: float  # reading + vocabulary building


def prepare_data(config: Word2VecConfig, source=None, *, fallback_to_toy: bool = True, progress: bool = True) -> tuple[Data, Word2VecConfig]:
    """Load the corpus, build the vocabulary, encode the words.

    Returns the data and the config with ``corpus`` set to the corpus actually used (the toy corpus
    when text8 is unavailable offline and ``fallback_to_toy``).
    """
    import warnings

    start = time.perf_counter()
    corpus = load_corpus(source, config.max_words, fallback_to_toy=fallback_to_toy and source is None, progress=progress)
    with warnings.catch_warnings():
        if corpus.name == "toy":  # the lecture's 50,000 exceeds the toy corpus's few hundred words
            warnings.filterwarnings("ignore", message="vocab_size=")
        vocab = Vocabulary.build(corpus.words, config.vocab_size, config.min_count)
    ids = vocab.encode(corpus.words)
    config = config.replace(corpus=corpus.name)
    return Data(corpus, vocab, ids, time.perf_counter() - start), config


def train(config: Word2VecConfig, data: Data, *, model: str = "tf2", run_dir=None, root="runs", progress=True, verbose=True) -> Path:
    """Train ``model`` ("tf2": the tf.Module trainer; "tf1": the lecture's graph model) to
    ``config.num_train_steps`` in ``run_dir`` (default: named after the settings under ``root``),
    resuming from its checkpoints. Returns the run directory."""
    run_dir = Path(run_dir) if run_dir is not None else run_dir_for(config, model, root)
    if model == "tf2":
        from .training import Trainer

        trainer = Trainer(config, data.vocab, data.ids, run_dir, verbose=verbose, progress=progress)
        if verbose and trainer.restored_from:
            print(f"resuming from {trainer.restored_from} (step {int(trainer.step.numpy()):,})")
        trainer.train()
    elif model == "tf1":
        from .skipgram import SkipGramStream
        from .tf1_model import SkipGramModel

        if config.loss != "nce" or config.lr_decay != "none" or config.sample or not config.keep_unk:
            raise ValueError("the lecture's graph model (--model tf1) trains with its own settings only: NCE loss, constant learning rate, no subsampling")
        stream = SkipGramStream(data.ids, config.batch_size, config.skip_window, seed=config.seed)
        graph_model = SkipGramModel(
            stream, len(data.vocab), config.embed_size, config.batch_size, config.num_sampled, config.learning_rate,
            skip_step=config.skip_step, run_dir=run_dir, config=config, seed=config.seed, verbose=verbose,
        ).build_graph()
        done = graph_model.current_step()
        if done < config.num_train_steps:
            graph_model.train(config.num_train_steps - done)
        data.vocab.save(run_dir / VOCAB_FILE)
    else:
        raise ValueError(f"model must be 'tf2' or 'tf1', not {model!r}")
    write_run_config(run_dir, config, model)
    return run_dir


def _evaluation_sets(config: Word2VecConfig, run_dir: Path, analogies=None, wordsim=None):
    """Analogy and WordSim files for a run: the toy corpus has its own analogies and no WordSim."""
    if config.corpus == "toy" and analogies is None:
        from .toy_corpus import write_toy_analogies

        return write_toy_analogies(run_dir / "toy_analogies.txt"), None
    from .evaluation import eval_data_path

    return analogies or eval_data_path("questions-words.txt"), wordsim or eval_data_path("wordsim353.tsv")


def evaluate_run(run_dir, *, analogies=None, wordsim=None, restrict_vocab: int = 30_000) -> dict:
    """Analogy accuracy (and WordSim-353, except on the toy corpus) of a trained run."""
    from .evaluation import evaluate_analogies, evaluate_wordsim

    run_dir = Path(run_dir)
    _, config, vocab, embeddings = load_run(run_dir)
    analogies, wordsim = _evaluation_sets(config, run_dir, analogies, wordsim)
    metrics = {"analogies": evaluate_analogies(embeddings, vocab, analogies, restrict_vocab=restrict_vocab)}
    if wordsim is not None:
        metrics["wordsim"] = evaluate_wordsim(embeddings, vocab, wordsim)
    return metrics


def finish_run(run_dir, *, num_visualize: int = 3_000, tsne_words: int = 500, analogies=None, wordsim=None, restrict_vocab: int = 30_000) -> dict:
    """Evaluate a trained run and write ``metrics.json``, ``projector/`` and ``tsne.png`` into it."""
    from .evaluation import write_metrics
    from .projector import export_projector
    from .tsne import plot_tsne

    run_dir = Path(run_dir)
    metrics = evaluate_run(run_dir, analogies=analogies, wordsim=wordsim, restrict_vocab=restrict_vocab)
    write_metrics(run_dir / "metrics.json", metrics)
    model, config, vocab, embeddings = load_run(run_dir)
    export_projector(run_dir / "projector", embeddings, vocab, num_visualize, form=model)
    words = min(tsne_words, len(vocab) - 1)
    plot_tsne(embeddings, vocab, run_dir / "tsne.png", n_words=words, seed=config.seed,
              title=f"t-SNE of the {words:,} most frequent words ({model} model, {config.corpus})")
    return metrics


def describe_run(run_dir, metrics: dict | None = None, probe_words=None, k: int = 8) -> str:
    """Nearest neighbours of probe words, the evaluation figures and how to open TensorBoard."""
    from .evaluation import format_metrics, nearest_neighbours

    run_dir = Path(run_dir)
    _, config = read_run_config(run_dir)
    vocab = Vocabulary.load(run_dir / VOCAB_FILE)
    embeddings = load_embeddings(run_dir)
    words = probe_words or PROBE_WORDS["toy" if config.corpus == "toy" else "default"]
    lines = ["nearest neighbours (cosine):"]
    for word in words:
        try:
            neighbours = nearest_neighbours(embeddings, vocab, word, k)
        except UnknownWordError:
            continue
        lines.append(f"  {word:>10}: " + ", ".join(f"{w} {s:.2f}" for w, s in neighbours))
    if metrics:
        lines += ["", format_metrics(metrics)]
    lines += ["", f"run directory: {run_dir}", f"open it:       tensorboard --logdir {run_dir}"]
    return "\n".join(lines)


def load_run(run_dir) -> tuple[str, Word2VecConfig, Vocabulary, np.ndarray]:
    """(model, config, vocabulary, embeddings) of a trained run."""
    run_dir = Path(run_dir)
    model, config = read_run_config(run_dir)
    return model, config, Vocabulary.load(run_dir / VOCAB_FILE), load_embeddings(run_dir)

