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
import errno
import math
import os
import sys
import time
from pathlib import Path

from .config import PRESETS, Word2VecConfig
from .corpus import CorpusError
from .progress import TrainingDivergedError
from .projector import NUM_VISUALIZE
from .runs import RunError
from .tsne import TSNE_WORDS
from .vocab import UnknownWordError

#: evaluation and output defaults: the lecture's 3,000 projector words, word2vec's 30,000 analogy candidates
RESTRICT_VOCAB = 30_000
DEFAULT_PRESET = "word2vec"

#: training flags: (flag, config field, type, help); their defaults come from the preset
TRAINING_FLAGS = [
    ("--vocab-size", "vocab_size", int, "vocabulary size counting UNK; 0 = every word seen --min-count times"),
    ("--min-count", "min_count", int, "ignore words seen fewer times"),
    ("--batch-size", "batch_size", int, "pairs per step (with --batching windows: centers per step)"),
    ("--embed-size", "embed_size", int, "embedding dimension"),
    ("--skip-window", "skip_window", int, "largest context window"),
    ("--num-sampled", "num_sampled", int, "NCE: noise words per batch"),
    ("--negative", "negative", int, "negative sampling: noise words per pair"),
    ("--learning-rate", "learning_rate", float, "SGD learning rate of the batch-mean loss"),
    ("--loss", "loss", str, "nce (the lecture's) or negative (word2vec's negative sampling)"),
    ("--sample", "sample", float, "subsampling threshold for frequent words; 0 = off"),
    (
        "--batching",
        "batching",
        str,
        "pairs: --batch-size pairs per step (the lecture); windows: --batch-size centers "
        "with their whole windows, negatives shared per window (word2vec's order; needs --loss negative)",
    ),
    ("--lr-decay", "lr_decay", str, "learning-rate schedule: none or linear"),
    ("--init", "init", str, "initial embeddings: uniform or word2vec"),
    ("--skip-step", "skip_step", int, "report the average loss and checkpoint every N steps"),
    ("--seed", "seed", int, "seed of every random choice"),
    ("--max-words", "max_words", int, "use only the first N words of the corpus"),
]
CHOICES = {
    "loss": ["nce", "negative"],
    "batching": ["pairs", "windows"],
    "lr_decay": ["none", "linear"],
    "init": ["uniform", "word2vec"],
}


def _preset_help() -> str:
    lines = [f"{name}: {preset.description}" for name, preset in PRESETS.items()]
    return (
        f"named recipe the other flags start from (default: {DEFAULT_PRESET}; with --model tf1: lecture). "
        + "; ".join(lines)
    )


def _corpus_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("corpus")
    group.add_argument(
        "--corpus",
        default=None,
        help="'toy' for the built-in toy corpus, or a path to a text8-format file (plain or zipped). Default: "
        "$CS20_TEXT8 if set, else text8 downloaded into the cache and verified; offline, the toy corpus",
    )


def _training_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model and training (defaults: the preset's)")
    group.add_argument("--preset", choices=sorted(PRESETS), default=None, help=_preset_help())
    group.add_argument(
        "--model",
        choices=["tf2", "tf1"],
        default="tf2",
        help="tf2: the tf.Module trainer; tf1: the lecture's graph-mode SkipGramModel (default: tf2)",
    )
    group.add_argument(
        "--steps", type=int, default=None, help="train until this global step (resumes a run that has fewer)"
    )
    group.add_argument("--epochs", type=float, default=None, help="train this many passes over the corpus instead")
    for flag, name, kind, text in TRAINING_FLAGS:
        group.add_argument(flag, dest=name, type=kind, default=None, choices=CHOICES.get(name), help=text)
    group.add_argument(
        "--drop-unk",
        dest="keep_unk",
        action="store_false",
        default=None,
        help="drop UNK tokens before making pairs (word2vec) instead of training on them (the lecture)",
    )
    group.add_argument("--keep-unk", dest="keep_unk", action="store_true", help="train on UNK tokens like any word")


def _evaluation_flags(group) -> None:
    group.add_argument(
        "--analogies",
        default=None,
        help="analogy questions file (default: Google's questions-words.txt; toy corpus: its own)",
    )
    group.add_argument(
        "--wordsim", default=None, help="word-pair similarity file (default: WordSim-353; toy corpus: none)"
    )
    group.add_argument(
        "--restrict-vocab",
        type=int,
        default=RESTRICT_VOCAB,
        help="analogies use only the N most frequent words, as gensim (default: %(default)s)",
    )


def _output_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("outputs")
    group.add_argument(
        "--num-visualize",
        type=int,
        default=NUM_VISUALIZE,
        help="words exported to the projector (default: %(default)s, the lecture's)",
    )
    group.add_argument(
        "--tsne-words",
        type=int,
        default=TSNE_WORDS,
        help="most frequent words in the t-SNE plot; 0 = no plot (default: %(default)s)",
    )
    _evaluation_flags(group)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cs20lib", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--verbose", action="store_true", help="show TensorFlow's C++ log lines (or set TF_CPP_MIN_LOG_LEVEL yourself)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help=cmd_train.__doc__, description=cmd_train.__doc__)
    _corpus_flags(train)
    _training_flags(train)
    _output_flags(train)
    where = train.add_argument_group("where")
    where.add_argument(
        "--run-dir",
        default=None,
        help="run directory (default: RUNS_ROOT/<model, corpus and settings>, so other settings or "
        "another corpus never share checkpoints)",
    )
    where.add_argument(
        "--runs-root",
        default=os.environ.get("CS20_RUNS", "runs"),
        help="where run directories go (default: $CS20_RUNS or ./runs)",
    )
    where.add_argument("--quiet", action="store_true", help="no progress bar or progress figures")
    train.set_defaults(run=cmd_train)

    evaluate = commands.add_parser("evaluate", help=cmd_evaluate.__doc__, description=cmd_evaluate.__doc__)
    evaluate.add_argument("run_dir", help="a run directory written by train")
    _evaluation_flags(evaluate)
    evaluate.set_defaults(run=cmd_evaluate)

    project = commands.add_parser("project", help=cmd_project.__doc__, description=cmd_project.__doc__)
    project.add_argument("run_dir", help="a run directory written by train")
    project.add_argument(
        "--num-visualize",
        type=int,
        default=NUM_VISUALIZE,
        help="how many of the most frequent words (default: %(default)s)",
    )
    project.set_defaults(run=cmd_project)

    tsne = commands.add_parser("tsne", help=cmd_tsne.__doc__, description=cmd_tsne.__doc__)
    tsne.add_argument("run_dir", help="a run directory written by train")
    tsne.add_argument(
        "--tsne-words", type=int, default=TSNE_WORDS, help="how many of the most frequent words (default: %(default)s)"
    )
    tsne.add_argument("--output", default=None, help="PNG path (default: RUN_DIR/tsne.png)")
    tsne.set_defaults(run=cmd_tsne)

    neighbours = commands.add_parser("neighbours", help=cmd_neighbours.__doc__, description=cmd_neighbours.__doc__)
    neighbours.add_argument("run_dir", help="a run directory written by train")
    neighbours.add_argument("words", nargs="+", help="query words")
    neighbours.add_argument("-k", type=int, default=8, help="neighbours per word (default: %(default)s)")
    neighbours.set_defaults(run=cmd_neighbours)

    stats = commands.add_parser("stats", help=cmd_stats.__doc__, description=cmd_stats.__doc__)
    _corpus_flags(stats)
    _training_flags(stats)
    stats.set_defaults(run=cmd_stats)
    return parser


# ----------------------------------------------------------------------------------------------
# From flags to settings, checked before anything runs
# ----------------------------------------------------------------------------------------------
def preset_name(args: argparse.Namespace) -> str:
    """The preset asked for; without --preset, the lecture's for its graph model and word2vec's otherwise."""
    return args.preset or ("lecture" if args.model == "tf1" else DEFAULT_PRESET)


def config_from(args: argparse.Namespace) -> Word2VecConfig:
    """The preset's settings with every flag given on the command line on top."""
    preset = PRESETS[preset_name(args)]
    settings = dict(preset.settings)
    for _, name, _, _ in TRAINING_FLAGS:
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    if args.keep_unk is not None:
        settings["keep_unk"] = args.keep_unk
    if settings.get("vocab_size") == 0:
        settings["vocab_size"] = None
    if args.steps is not None:
        settings["num_train_steps"] = args.steps
    config = Word2VecConfig(**settings)
    return config.replace(skip_step=min(config.skip_step, config.num_train_steps))


def _check_output_flags(args: argparse.Namespace) -> None:
    from . import checks

    for name, minimum in (("num_visualize", 1), ("tsne_words", 0), ("restrict_vocab", 1), ("k", 1)):
        if hasattr(args, name):
            checks.integer("--" + name.replace("_", "-"), getattr(args, name), minimum)
    for name in ("analogies", "wordsim"):
        path = getattr(args, name, None)
        if path is not None and not Path(path).is_file():
            raise FileNotFoundError(
                f"--{name} {path}: {'a folder' if Path(path).is_dir() else 'no such file'}; pass the path of a file."
            )


def _epochs(args: argparse.Namespace):
    """The number of epochs to train (--epochs, or the preset's unless --steps is given), checked."""
    preset = PRESETS[preset_name(args)]
    epochs = args.epochs if args.epochs is not None else (None if args.steps is not None else preset.epochs)
    if epochs is not None and not (math.isfinite(epochs) and epochs > 0):
        raise ValueError(f"--epochs must be a finite number > 0, not {epochs}")
    if args.steps is not None and args.epochs is not None:
        raise ValueError("give --steps or --epochs, not both")
    return epochs


def _check_run_root(args: argparse.Namespace) -> None:
    for flag, value in (("--run-dir", args.run_dir), ("--runs-root", args.runs_root)):
        if value is not None and Path(value).exists() and not Path(value).is_dir():
            raise RunError(f"{flag} {value} is a file, not a directory; choose another one.")


# ----------------------------------------------------------------------------------------------
# Commands
# ----------------------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    """Train word2vec; write checkpoints, TensorBoard logs, projector files, tsne.png and metrics.json."""
    from .experiment import describe_run, finish_run, prepare_data, steps_per_epoch, train

    _check_output_flags(args)
    _check_run_root(args)
    epochs = _epochs(args)
    config = config_from(args)
    preset = preset_name(args)
    if args.model == "tf1" and config.loss != "nce":
        raise ValueError(
            "--model tf1 is the lecture's graph model, which trains with NCE: use it with --preset lecture"
        )
    progress = False if args.quiet else None
    data, config = prepare_data(config, args.corpus, progress=progress is not False)
    per_epoch = steps_per_epoch(config, data)
    if epochs is not None:
        steps = round(epochs * per_epoch)
        if steps < 1:
            raise ValueError(f"--epochs {epochs:g} is less than one step (one epoch is {per_epoch:,.1f} steps)")
        config = config.replace(num_train_steps=steps, skip_step=min(config.skip_step, steps))
    if args.tsne_words and len(data.vocab) - 1 < 4:
        raise ValueError(
            f"the vocabulary has {len(data.vocab) - 1} words besides UNK; a t-SNE plot needs at least 4. "
            f"Use a larger --vocab-size, or --tsne-words 0 for no plot."
        )
    from .runs import check_run_config, run_dir_for

    run_dir = Path(args.run_dir) if args.run_dir else run_dir_for(config, args.model, args.runs_root)
    check_run_config(run_dir, config, args.model)  # refuse a run directory of other settings before starting
    print(
        f"corpus: {data.corpus.name}, {len(data.corpus):,} words ({data.corpus.source}); vocabulary "
        f"{len(data.vocab):,}; {data.seconds:.1f} s"
    )
    unit = "centers with their windows" if config.batching == "windows" else "pairs"
    print(
        f"preset {preset}: training the {args.model} model for {config.num_train_steps:,} steps of "
        f"{config.batch_size} {unit} ({config.num_train_steps / per_epoch:.2f} epochs; {config.loss} loss, "
        f"window {config.skip_window}, learning rate {config.learning_rate:g})"
    )
    start = time.perf_counter()
    train(config, data, api=args.model, run_dir=run_dir, progress=progress)
    print(f"trained in {time.perf_counter() - start:.1f} s")
    metrics = finish_run(
        run_dir,
        num_visualize=args.num_visualize,
        tsne_words=args.tsne_words,
        analogies=args.analogies,
        wordsim=args.wordsim,
        restrict_vocab=args.restrict_vocab,
    )
    print()
    print(describe_run(run_dir, metrics))
    print()
    other = "lecture" if preset != "lecture" else DEFAULT_PRESET
    print(
        f"This was the {preset} preset ({PRESETS[preset].description.split(':')[0]}). "
        f'For the {other} preset: python -m cs20lib train --preset {other}  (make demo ARGS="--preset {other}")'
    )
    return 0


def _existing_run(path: str) -> Path:
    from .runs import read_run_config

    read_run_config(path)  # a clear error if it is not a run directory
    return Path(path)


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate a trained run: analogies (3CosAdd) and WordSim-353; print and write metrics.json."""
    from .evaluation import evaluate_analogies, evaluate_wordsim, format_metrics, write_metrics
    from .experiment import evaluation_files, load_run

    _check_output_flags(args)
    run_dir = _existing_run(args.run_dir)
    _, config, vocab, embeddings = load_run(run_dir)
    analogies, wordsim = evaluation_files(config, run_dir, args.analogies, args.wordsim)
    metrics = {"analogies": evaluate_analogies(embeddings, vocab, analogies, restrict_vocab=args.restrict_vocab)}
    if wordsim is not None:
        metrics["wordsim"] = evaluate_wordsim(embeddings, vocab, wordsim)
    write_metrics(run_dir / "metrics.json", metrics)
    print(format_metrics(metrics))
    return 0


def cmd_project(args: argparse.Namespace) -> int:
    """Write a run's projector files (checkpoint slice, metadata.tsv, projector_config.pbtxt)."""
    from .experiment import load_run
    from .projector import export_projector, projector_command

    _check_output_flags(args)
    run_dir = _existing_run(args.run_dir)
    api, _, vocab, embeddings = load_run(run_dir)
    folder = export_projector(run_dir / "projector", embeddings, vocab, args.num_visualize, form=api)
    print(f"projector files in {folder}; open them with: {projector_command(run_dir)}")
    return 0


def cmd_tsne(args: argparse.Namespace) -> int:
    """Draw the t-SNE plot of a run's most frequent words (tsne.png, or --output)."""
    from . import checks
    from .experiment import load_run
    from .tsne import plot_tsne

    checks.integer("--tsne-words", args.tsne_words, 4)
    run_dir = _existing_run(args.run_dir)
    _, config, vocab, embeddings = load_run(run_dir)
    path = plot_tsne(
        embeddings,
        vocab,
        args.output or run_dir / "tsne.png",
        n_words=min(args.tsne_words, len(vocab) - 1),
        seed=config.seed,
    )
    print(f"t-SNE plot written to {path}")
    return 0


def cmd_neighbours(args: argparse.Namespace) -> int:
    """Print the nearest neighbours (cosine) of words in a trained run."""
    from .evaluation import nearest_neighbours_many
    from .experiment import load_run

    _check_output_flags(args)
    run_dir = _existing_run(args.run_dir)
    _, _, vocab, embeddings = load_run(run_dir)
    for word, neighbours in nearest_neighbours_many(embeddings, vocab, args.words, args.k).items():
        print(f"{word}: " + ", ".join(f"{w} {s:.2f}" for w, s in neighbours))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """Load the corpus, build the vocabulary and print what the input pipeline makes of it."""
    from .experiment import prepare_data, steps_per_epoch
    from .skipgram import SkipGramStream

    config = config_from(args)
    data, config = prepare_data(config, args.corpus)
    unk_share = float((data.ids == 0).mean())
    print(f"corpus      {data.corpus.name}: {len(data.corpus):,} words from {data.corpus.source}")
    print(
        f"vocabulary  {len(data.vocab):,} entries; most common: {', '.join(data.vocab.words[1:9])}; "
        f"UNK is {unk_share:.1%} of tokens ({data.seconds:.1f} s with reading)"
    )
    per_epoch = steps_per_epoch(config, data)
    stream = SkipGramStream.from_config(config, data.ids, data.vocab.counts, epochs=1)
    make = stream.window_chunks if config.batching == "windows" else stream.chunks
    start = time.perf_counter()
    made = sum(int((targets >= 0).sum()) for _, targets in make())
    seconds = time.perf_counter() - start
    print(
        f"pairs       {stream.pairs_per_epoch():,} (center, target) pairs per epoch with skip_window="
        f"{config.skip_window}; {per_epoch:,.0f} steps of {config.batch_size} per epoch ({config.batching})"
    )
    print(f"pipeline    {made:,} pairs in {seconds:.2f} s = {made / seconds:,.0f} pairs/s")
    return 0


# ----------------------------------------------------------------------------------------------
def _os_error_message(error: OSError) -> str:
    """One line for an operating-system error: the file, what went wrong, what to do."""
    where = error.filename or "a file"
    remedies = {
        errno.EROFS: "it is on a read-only file system: choose a writable --runs-root / --run-dir (or CS20_CACHE_DIR)",
        errno.EACCES: "permission denied: choose a folder you can write to, or fix its permissions",
        errno.ENOSPC: "the disk is full: free some space and run the command again (finished checkpoints are kept)",
        errno.EISDIR: "it is a folder: pass the path of a file",
        errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
        errno.ENAMETOOLONG: "the name is too long: choose a shorter path or --run-dir",
        errno.ENOENT: "no such file or folder",
    }
    return f"{where}: {remedies.get(error.errno, error.strerror or str(error))}"


def _plain_warning(message, category, filename, lineno, line=None) -> str:
    return f"warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import warnings

    from .tf_logging import import_tensorflow

    tf = import_tensorflow(verbose=args.verbose)
    formatwarning, warnings.formatwarning = warnings.formatwarning, _plain_warning  # a sentence, not our source
    try:
        return args.run(args)
    except (CorpusError, RunError, UnknownWordError, TrainingDivergedError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc if exc.errno is None else _os_error_message(exc)}", file=sys.stderr)
        return 2
    except tf.errors.OpError as exc:  # a file operation inside TensorFlow (event files, checkpoints)
        print(
            f"error: {exc.message.strip().splitlines()[0]}; check that the folder exists, is writable and has "
            f"free space",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: the last checkpoint is intact; run the same command again to resume.", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = formatwarning


if __name__ == "__main__":
    sys.exit(main())
