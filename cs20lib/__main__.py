"""cs20-word2vec from the command line: ``python -m cs20lib COMMAND`` (``COMMAND --help`` for its flags).

  train       train word2vec and write checkpoints, TensorBoard logs, projector files, t-SNE, metrics
  evaluate    analogy accuracy and WordSim-353 of a trained run (prints, writes metrics.json)
  project     (re)write a run's TensorBoard projector files
  tsne        (re)draw a run's t-SNE plot
  neighbours  nearest neighbours of words in a trained run
  stats       corpus, vocabulary and input-pipeline figures, without training
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .config import Word2VecConfig
from .corpus import CorpusError
from .runs import CheckpointMismatchError
from .vocab import UnknownWordError

DEFAULTS = Word2VecConfig()


def _corpus_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("corpus")
    group.add_argument(
        "--corpus", default=None,
        help="'toy' for the built-in toy corpus, or a path to a text8-format file (plain or zipped). "
        "Default: $CS20_TEXT8 if set, else text8 downloaded into the cache and verified; if that is "
        "impossible (offline), the toy corpus, with a warning",
    )
    group.add_argument("--max-words", type=int, default=None, help="use only the first N words of the corpus (default: all)")
    group.add_argument("--vocab-size", type=int, default=DEFAULTS.vocab_size, help="vocabulary size counting UNK; 0 = every word seen --min-count times (default: %(default)s, the lecture's)")
    group.add_argument("--min-count", type=int, default=DEFAULTS.min_count, help="ignore words seen fewer times (default: %(default)s; word2vec: 5)")


def _model_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model and training (defaults: the lecture's)")
    group.add_argument("--model", choices=["tf2", "tf1"], default="tf2", help="tf2: tf.Module + tf.function trainer; tf1: the lecture's graph-mode SkipGramModel (default: %(default)s)")
    group.add_argument("--steps", type=int, default=DEFAULTS.num_train_steps, help="train until this global step, resuming a run that has fewer (default: %(default)s)")
    group.add_argument("--epochs", type=float, default=None, help="instead of --steps: train this many passes over the corpus")
    group.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size, help="pairs per step (default: %(default)s)")
    group.add_argument("--embed-size", type=int, default=DEFAULTS.embed_size, help="embedding dimension (default: %(default)s)")
    group.add_argument("--skip-window", type=int, default=DEFAULTS.skip_window, help="largest context window (default: %(default)s)")
    group.add_argument("--num-sampled", type=int, default=DEFAULTS.num_sampled, help="noise words: NCE samples per step or negatives per pair (default: %(default)s)")
    group.add_argument("--learning-rate", type=float, default=DEFAULTS.learning_rate, help="SGD learning rate (default: %(default)s)")
    group.add_argument("--loss", choices=["nce", "negative"], default=DEFAULTS.loss, help="nce (the lecture's) or negative sampling (word2vec's) (default: %(default)s)")
    group.add_argument("--sample", type=float, default=DEFAULTS.sample, help="subsampling threshold for frequent words, 0 = off (default: %(default)s; word2vec: 1e-3)")
    group.add_argument("--batching", choices=["pairs", "windows"], default=DEFAULTS.batching, help="pairs: --batch-size pairs per step (the lecture); windows: --batch-size centers per step with their whole windows, negatives shared per window (word2vec's order; needs --loss negative) (default: %(default)s)")
    group.add_argument("--lr-decay", choices=["none", "linear"], default=DEFAULTS.lr_decay, help="learning-rate schedule (default: %(default)s)")
    group.add_argument("--drop-unk", action="store_true", help="drop UNK tokens before making pairs (word2vec) instead of training on them (the lecture)")
    group.add_argument("--init", choices=["uniform", "word2vec"], default=DEFAULTS.init, help="initial embeddings (default: %(default)s)")
    group.add_argument("--skip-step", type=int, default=DEFAULTS.skip_step, help="report the average loss and checkpoint every N steps (default: %(default)s)")
    group.add_argument("--seed", type=int, default=DEFAULTS.seed, help="seed of every random choice (default: %(default)s)")


def _output_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("outputs")
    group.add_argument("--num-visualize", type=int, default=3_000, help="words exported to the projector (default: %(default)s, the lecture's)")
    group.add_argument("--tsne-words", type=int, default=500, help="most frequent words in the t-SNE plot (default: %(default)s)")
    group.add_argument("--analogies", default=None, help="analogy questions file (default: Google's questions-words.txt installed with gensim; the toy corpus uses its own)")
    group.add_argument("--wordsim", default=None, help="word-pair similarity file (default: WordSim-353 installed with gensim)")
    group.add_argument("--restrict-vocab", type=int, default=30_000, help="analogies use only the N most frequent words, as gensim (default: %(default)s)")


def _config_from(args: argparse.Namespace) -> Word2VecConfig:
    return Word2VecConfig(
        vocab_size=args.vocab_size or None, min_count=args.min_count, batch_size=args.batch_size, embed_size=args.embed_size,
        skip_window=args.skip_window, num_sampled=args.num_sampled, learning_rate=args.learning_rate,
        num_train_steps=args.steps, skip_step=min(args.skip_step, args.steps), loss=args.loss, sample=args.sample,
        lr_decay=args.lr_decay, batching=args.batching, keep_unk=not args.drop_unk, init=args.init, seed=args.seed, max_words=args.max_words,
    )


def cmd_train(args: argparse.Namespace) -> int:
    """Train word2vec; write checkpoints, TensorBoard logs, projector files, tsne.png and metrics.json."""
    from .experiment import describe_run, finish_run, prepare_data, train

    config = _config_from(args)
    data, config = prepare_data(config, args.corpus, progress=not args.quiet)
    if args.epochs is not None:
        from .skipgram import SkipGramStream

        stream = SkipGramStream(data.ids, config.batch_size, config.skip_window, seed=config.seed, sample=config.sample, counts=data.vocab.counts, drop_unk=not config.keep_unk)
        steps = max(1, round(args.epochs * stream.batches_per_epoch(config.batching)))
        config = config.replace(num_train_steps=steps, skip_step=min(config.skip_step, steps))
    print(f"corpus: {data.corpus.name}, {len(data.corpus):,} words ({data.corpus.source}); vocabulary {len(data.vocab):,}; {data.seconds:.1f} s")
    print(f"training the {args.model} model for {config.num_train_steps:,} steps of {config.batch_size} pairs ({config.loss} loss, window {config.skip_window}, lr {config.learning_rate:g})")
    start = time.perf_counter()
    run_dir = train(config, data, model=args.model, run_dir=args.run_dir, root=args.runs_root, progress=not args.quiet)
    print(f"trained in {time.perf_counter() - start:.1f} s")
    metrics = finish_run(run_dir, num_visualize=args.num_visualize, tsne_words=args.tsne_words, analogies=args.analogies, wordsim=args.wordsim, restrict_vocab=args.restrict_vocab)
    print()
    print(describe_run(run_dir, metrics))
    return 0


def _existing_run(path: str) -> Path:
    run_dir = Path(path)
    if not (run_dir / "config.json").exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no config.json there); pass a directory that `python -m cs20lib train` printed, e.g. runs/tf2-...")
    return run_dir


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate a trained run: analogies (3CosAdd) and WordSim-353; print and write metrics.json."""
    from .evaluation import format_metrics, write_metrics
    from .experiment import evaluate_run

    run_dir = _existing_run(args.run_dir)
    metrics = evaluate_run(run_dir, analogies=args.analogies, wordsim=args.wordsim, restrict_vocab=args.restrict_vocab)
    write_metrics(run_dir / "metrics.json", metrics)
    print(format_metrics(metrics))
    return 0


def cmd_project(args: argparse.Namespace) -> int:
    """Write a run's projector files (checkpoint slice, metadata.tsv, projector_config.pbtxt)."""
    from .experiment import load_run
    from .projector import export_projector, projector_command

    run_dir = _existing_run(args.run_dir)
    model, _, vocab, embeddings = load_run(run_dir)
    folder = export_projector(run_dir / "projector", embeddings, vocab, args.num_visualize, form=model)
    print(f"projector files in {folder}; open them with: {projector_command(run_dir)}")
    return 0


def cmd_tsne(args: argparse.Namespace) -> int:
    """Draw the t-SNE plot of a run's most frequent words (tsne.png, or --output)."""
    from .experiment import load_run
    from .tsne import plot_tsne

    run_dir = _existing_run(args.run_dir)
    _, config, vocab, embeddings = load_run(run_dir)
    path = plot_tsne(embeddings, vocab, args.output or run_dir / "tsne.png", n_words=min(args.tsne_words, len(vocab) - 1), seed=config.seed)
    print(f"t-SNE plot written to {path}")
    return 0


def cmd_neighbours(args: argparse.Namespace) -> int:
    """Print the nearest neighbours (cosine) of words in a trained run."""
    from .evaluation import nearest_neighbours
    from .experiment import load_run

    run_dir = _existing_run(args.run_dir)
    _, _, vocab, embeddings = load_run(run_dir)
    for word in args.words:
        neighbours = nearest_neighbours(embeddings, vocab, word, args.k)
        print(f"{word}: " + ", ".join(f"{w} {s:.2f}" for w, s in neighbours))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """Load the corpus, build the vocabulary and print what the input pipeline makes of it."""
    from .experiment import prepare_data
    from .skipgram import SkipGramStream

    config = Word2VecConfig(vocab_size=args.vocab_size or None, min_count=args.min_count, max_words=args.max_words)
    data, config = prepare_data(config, args.corpus)
    unk_share = float((data.ids == 0).mean())
    print(f"corpus      {data.corpus.name}: {len(data.corpus):,} words from {data.corpus.source}")
    print(f"vocabulary  {len(data.vocab):,} entries; most common: {', '.join(data.vocab.words[1:9])}; UNK is {unk_share:.1%} of tokens ({data.seconds:.1f} s with reading)")
    stream = SkipGramStream(data.ids, args.batch_size, args.skip_window, seed=0, epochs=1)
    start = time.perf_counter()
    made = sum(centers.size for centers, _ in stream.chunks())
    seconds = time.perf_counter() - start
    print(f"pairs       {stream.pairs_per_epoch():,} (center, target) pairs per epoch with skip_window={args.skip_window}")
    print(f"pipeline    {made // args.batch_size:,} batches of {args.batch_size} in {seconds:.2f} s = {made / seconds:,.0f} pairs/s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cs20lib", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help=cmd_train.__doc__, description=cmd_train.__doc__)
    _corpus_flags(train)
    _model_flags(train)
    _output_flags(train)
    where = train.add_argument_group("where")
    where.add_argument("--run-dir", default=None, help="run directory (default: RUNS_ROOT/<model and settings>, so other settings never share checkpoints)")
    where.add_argument("--runs-root", default=os.environ.get("CS20_RUNS", "runs"), help="where run directories go (default: $CS20_RUNS or ./runs)")
    where.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(run=cmd_train)

    evaluate = commands.add_parser("evaluate", help=cmd_evaluate.__doc__, description=cmd_evaluate.__doc__)
    evaluate.add_argument("run_dir", help="a run directory written by train")
    evaluate.add_argument("--analogies", default=None, help="analogy questions file (default: Google's set; toy runs: the toy set)")
    evaluate.add_argument("--wordsim", default=None, help="word-pair similarity file (default: WordSim-353)")
    evaluate.add_argument("--restrict-vocab", type=int, default=30_000, help="analogies use only the N most frequent words (default: %(default)s)")
    evaluate.set_defaults(run=cmd_evaluate)

    project = commands.add_parser("project", help=cmd_project.__doc__, description=cmd_project.__doc__)
    project.add_argument("run_dir", help="a run directory written by train")
    project.add_argument("--num-visualize", type=int, default=3_000, help="how many of the most frequent words (default: %(default)s)")
    project.set_defaults(run=cmd_project)

    tsne = commands.add_parser("tsne", help=cmd_tsne.__doc__, description=cmd_tsne.__doc__)
    tsne.add_argument("run_dir", help="a run directory written by train")
    tsne.add_argument("--tsne-words", type=int, default=500, help="how many of the most frequent words (default: %(default)s)")
    tsne.add_argument("--output", default=None, help="PNG path (default: RUN_DIR/tsne.png)")
    tsne.set_defaults(run=cmd_tsne)

    neighbours = commands.add_parser("neighbours", help=cmd_neighbours.__doc__, description=cmd_neighbours.__doc__)
    neighbours.add_argument("run_dir", help="a run directory written by train")
    neighbours.add_argument("words", nargs="+", help="query words")
    neighbours.add_argument("-k", type=int, default=8, help="neighbours per word (default: %(default)s)")
    neighbours.set_defaults(run=cmd_neighbours)

    stats = commands.add_parser("stats", help=cmd_stats.__doc__, description=cmd_stats.__doc__)
    _corpus_flags(stats)
    stats.add_argument("--skip-window", type=int, default=1, help="largest context window (default: %(default)s)")
    stats.add_argument("--batch-size", type=int, default=128, help="pairs per batch (default: %(default)s)")
    stats.set_defaults(run=cmd_stats)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the output
    try:
        return args.run(args)
    except (CorpusError, CheckpointMismatchError, UnknownWordError, FileNotFoundError, ValueError, FloatingPointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: the last checkpoint is intact; run the same command again to resume.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
