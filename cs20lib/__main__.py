"""cs20-word2vec from the command line: ``python -m cs20lib COMMAND`` (``COMMAND --help`` for its flags).

train       train word2vec and write checkpoints, TensorBoard logs, projector files, t-SNE, metrics
evaluate    analogy accuracy and WordSim-353 of a trained run (prints, writes metrics.json)
project     (re)write a run's TensorBoard projector files
tsne        (re)draw a run's t-SNE plot
neighbours  nearest neighbours of words in a trained run
stats       corpus, vocabulary and input-pipeline figures, without training
cluster     a local cluster of parameter servers and workers on 127.0.0.1, until Ctrl-C
cluster-task  this machine's task of the cluster in TF_CONFIG (real clusters)
notebooks   write the notebook series into a folder, to run with this environment's Jupyter kernel
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import signal
import sys
import time
from pathlib import Path

from . import cli_flags
from .cli_flags import (
    DEFAULT_PRESET,
    _check_output_flags,
    _check_run_root,
    _epochs,
    config_from,
    preset_name,
)
from .cluster import ClusterError
from .config import PRESETS
from .corpus import CorpusError
from .course import NotebookConflictError
from .fused_op import KernelUnavailableError
from .progress import TrainingDivergedError, TrainingInterrupted
from .runs import RunError
from .vocab import UnknownWordError


# ----------------------------------------------------------------------------------------------
# Commands
# ----------------------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    """Train word2vec; write checkpoints, TensorBoard logs, projector files, tsne.png and metrics.json."""
    from .experiment import plan, prepare_data
    from .runs import lock_run, run_dir_for

    _check_output_flags(args)
    _check_run_root(args)
    if args.strategy == "mirrored":  # logical devices must be set before TensorFlow's runtime starts
        from .distributed import split_cpu_if_no_gpu

        split_cpu_if_no_gpu(args.devices)
    epochs = _epochs(args)
    config = config_from(args)
    preset = preset_name(args)
    if args.api == "tf1" and config.loss != "nce":
        raise ValueError("--api tf1 is the lecture's graph model, which trains with NCE: use it with --preset lecture")
    progress = False if args.quiet else None
    data, config = prepare_data(config, args.corpus, progress=progress is not False, compact=True)
    run_plan = plan(config, data, epochs=epochs)  # the run's plan, made once: stream, steps per epoch, steps
    data.release_words()  # from here on the ids are the corpus
    config = run_plan.config
    if args.tsne_words and len(data.vocab) - 1 < 4:
        raise ValueError(
            f"the vocabulary has {len(data.vocab) - 1} words besides UNK; a t-SNE plot needs at least 4. "
            f"Use a larger --vocab-size, or --tsne-words 0 for no plot."
        )
    run_dir = Path(args.run_dir) if args.run_dir else run_dir_for(config, args.api, args.runs_root)
    chief = True
    if args.strategy == "multi-worker":
        from .distributed import is_chief

        chief = is_chief()
    # held until the results are written: one training per run directory (the chief's, in a multi-worker run)
    with lock_run(run_dir, wait=args.wait) if chief else contextlib.nullcontext():
        return _train_in(run_dir, args, run_plan, data, preset, progress, chief)


def _train_in(run_dir, args, run_plan, data, preset, progress, chief: bool) -> int:
    """cmd_train's part in the run directory (locked by the chief): check it, train, evaluate, describe."""
    from .experiment import describe_run, finish_run, train
    from .runs import open_run

    config = run_plan.config
    open_run(run_dir, config, args.api, data.vocab)  # refuses a run directory of other settings before training
    print(
        f"corpus: {data.corpus.name}, {len(data.corpus):,} words ({data.corpus.source}); vocabulary "
        f"{len(data.vocab):,}; {data.seconds:.1f} s"
    )
    unit = "centers with their windows" if config.batching == "windows" else "pairs"
    rate = f"learning rate {config.learning_rate:g}"
    if config.loss == "negative":
        rate += f" ({config.pair_learning_rate:g} per pair)"
    print(
        f"preset {preset}: training the {args.api} model for {config.num_train_steps:,} steps of "
        f"{config.batch_size} {unit} ({run_plan.epochs():.2f} epochs; {config.loss} loss, "
        f"window {config.skip_window}, {rate})"
    )
    distribution = (
        {"workers": args.workers, "ps": args.ps, "devices": args.devices} if args.strategy != "default" else {}
    )
    start = time.perf_counter()
    train(run_plan, data, api=args.api, run_dir=run_dir, progress=progress, strategy=args.strategy, **distribution)
    print(f"trained in {time.perf_counter() - start:.1f} s")
    run_plan.release()  # evaluating the run needs the vocabulary only
    data.release()
    if not chief:
        return 0  # the chief evaluates and writes the results
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
    folder = export_projector(run_dir / "projector", embeddings, vocab, args.num_visualize, api=api)
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
    from .experiment import plan, prepare_data
    from .skipgram import SkipGramStream

    config = config_from(args)
    data, config = prepare_data(config, args.corpus)
    unk_share = float((data.ids == 0).mean())
    print(f"corpus      {data.corpus.name}: {len(data.corpus):,} words from {data.corpus.source}")
    print(
        f"vocabulary  {len(data.vocab):,} entries; most common: {', '.join(data.vocab.words[1:9])}; "
        f"UNK is {unk_share:.1%} of tokens ({data.seconds:.1f} s with reading)"
    )
    per_epoch = plan(config, data).steps_per_epoch
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


def cmd_cluster(args: argparse.Namespace) -> int:
    """Start a local cluster (parameter servers and workers on 127.0.0.1) and keep it up until Ctrl-C."""
    from .cluster import LocalCluster

    with LocalCluster(args.workers, args.ps) as cluster:
        spec = json.dumps({"cluster": cluster.cluster, "task": {"type": "chief", "index": 0}})
        print(
            f"cluster up: {len(cluster.cluster['ps'])} parameter server(s) {', '.join(cluster.cluster['ps'])}; "
            f"{len(cluster.cluster['worker'])} worker(s) {', '.join(cluster.cluster['worker'])}"
        )
        print(
            "train on it from another terminal:\n"
            f"  TF_CONFIG='{spec}' python -m cs20lib train --strategy parameter-server"
        )
        print("Ctrl-C stops it.", flush=True)
        deadline = time.monotonic() + args.seconds if args.seconds else None
        while deadline is None or time.monotonic() < deadline:
            cluster.check()
            time.sleep(0.5)
    return 0


def cmd_cluster_task(args: argparse.Namespace) -> int:
    """Run this machine's task (parameter server or worker) of the cluster in TF_CONFIG, until stopped."""
    from .cluster import serve_from_tf_config

    serve_from_tf_config()
    return 0


def cmd_notebooks(args: argparse.Namespace) -> int:
    """Write the notebook series (stored outputs included) into a folder, set to run in this environment's kernel."""
    from .course import write_notebooks

    write_notebooks(args.folder, edition=args.edition, force=args.force)
    return 0


# ----------------------------------------------------------------------------------------------
def build_parser():
    """The parser of ``python -m cs20lib``, its commands bound to the functions above."""
    commands = {
        "train": cmd_train,
        "evaluate": cmd_evaluate,
        "project": cmd_project,
        "tsne": cmd_tsne,
        "neighbours": cmd_neighbours,
        "stats": cmd_stats,
        "cluster": cmd_cluster,
        "cluster-task": cmd_cluster_task,
        "notebooks": cmd_notebooks,
    }
    return cli_flags.build_parser(commands, __doc__)


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


def _stop_on_signals() -> dict:
    """Ctrl-C (SIGINT) and SIGTERM stop a command with KeyboardInterrupt, however the process was started: a
    process started in the background inherits SIGINT ignored, and SIGTERM would end it without a word.
    Returns the handlers it replaced."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    return {number: signal.signal(number, interrupt) for number in (signal.SIGINT, signal.SIGTERM)}


def _file_error(tf, error) -> bool:
    """Whether a TensorFlow error is one a file operation raises (event files, checkpoints)."""
    errors = tf.errors
    kinds = (errors.NotFoundError, errors.PermissionDeniedError, errors.ResourceExhaustedError, errors.DataLossError)
    return isinstance(error, kinds)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import warnings

    from .tf_logging import import_tensorflow

    replaced = _stop_on_signals() if args.command in ("train", "cluster", "cluster-task") else {}
    tf = import_tensorflow(verbose=args.verbose)
    formatwarning, warnings.formatwarning = warnings.formatwarning, _plain_warning  # a sentence, not our source
    try:
        return args.run(args)
    except (
        CorpusError,
        RunError,
        UnknownWordError,
        TrainingDivergedError,
        KernelUnavailableError,
        ClusterError,
        NotebookConflictError,
        ValueError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc if exc.errno is None else _os_error_message(exc)}", file=sys.stderr)
        return 2
    except tf.errors.OpError as exc:
        reason = exc.message.strip().splitlines()[0] if exc.message.strip() else type(exc).__name__
        if _file_error(tf, exc):
            reason += "; check that the folder exists, is writable and has free space"
        print(f"error: {reason}", file=sys.stderr)
        return 2
    except TrainingInterrupted as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\ninterrupted: the last checkpoint is intact; run the same command again to resume.", file=sys.stderr)
        return 130
    finally:
        warnings.formatwarning = formatwarning
        for number, handler in replaced.items():  # main() called from Python (tests) leaves them as they were
            signal.signal(number, handler)


if __name__ == "__main__":
    sys.exit(main())
