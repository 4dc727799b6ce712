"""The command line's flags: the parser of ``python -m cs20lib``, the settings a preset and the flags
give, and the checks of flag values that run before anything is read or trained."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from .config import BATCHINGS, INITS, KERNELS, LOSSES, LR_DECAYS, PRESETS, STRATEGIES, Word2VecConfig
from .evaluation import RESTRICT_VOCAB
from .projector import NUM_VISUALIZE
from .runs import APIS, RunError
from .tsne import TSNE_WORDS

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
#: the values a setting takes, as Word2VecConfig checks them
CHOICES = {
    "loss": LOSSES,
    "batching": BATCHINGS,
    "lr_decay": LR_DECAYS,
    "init": INITS,
}


def _preset_help() -> str:
    lines = [f"{name}: {preset.description}" for name, preset in PRESETS.items()]
    return (
        f"named recipe the other flags start from (default: {DEFAULT_PRESET}; with --api tf1: lecture). "
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
        "--api",
        "--model",
        dest="api",
        choices=APIS[::-1],
        default="tf2",
        help="which of the lecture's two forms trains: tf2, the tf.Module trainer; tf1, the lecture's graph-mode "
        "SkipGramModel (default: tf2; --model is its older name)",
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


def _kernel_flags(parser: argparse.ArgumentParser) -> None:
    """How negative sampling's step is computed (cs20lib.fused_op); a group of its own after the outputs."""
    group = parser.add_argument_group("speed of negative sampling's step (defaults: the preset's)")
    group.add_argument(
        "--kernel",
        choices=list(KERNELS),
        default=None,
        help="tf: TensorFlow's ops; fused: word2vec's loop as a custom op compiled on first use with $CXX or g++ "
        "(an error where it cannot be built); auto: fused where it builds, else tf after one line saying why",
    )
    group.add_argument(
        "--hogwild",
        dest="hogwild",
        action="store_true",
        default=None,
        help="fused kernel: split each batch over the threads, updating without locks (may be faster with idle "
        "cores; runs are not bit-reproducible and a resumed run does not equal an uninterrupted one)",
    )
    group.add_argument(
        "--fused-update",
        dest="fused_update",
        choices=["pairs", "rows"],
        default=None,
        help="fused kernel's arithmetic: pairs, each (input, output) pair's SGD step at once, in order (the "
        "word2vec tool); rows, a row's pairs as small matrix products from the row's start values (HogBatch, "
        "Ji et al. 2016)",
    )
    group.add_argument(
        "--deterministic",
        dest="hogwild",
        action="store_false",
        help="fused kernel: one thread in a fixed order (the default: the same seed gives the same weights; "
        "exact resume)",
    )


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


def _distribution_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("distribution (TF2 trainer; see docs/architecture.md, notebook 11)")
    group.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="default",
        help="default: one process (its GPU if any); mirrored: replicas on this machine's GPUs or --devices "
        "logical CPUs; parameter-server: tables sharded over parameter servers, steps on workers (the cluster "
        "in TF_CONFIG, else a local one of --workers and --ps); multi-worker: MultiWorkerMirroredStrategy, one "
        "process per TF_CONFIG task (default: %(default)s)",
    )
    group.add_argument("--workers", type=int, default=2, help="local cluster: worker processes (default: %(default)s)")
    group.add_argument("--ps", type=int, default=1, help="local cluster: parameter servers (default: %(default)s)")
    group.add_argument(
        "--devices", type=int, default=None, help="mirrored without GPUs: logical CPU devices (default: 2)"
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


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's help, with an option of several names in the compact form of newer Pythons
    (``--api, --model {tf2,tf1}``; older ones repeat the choices after each name) on every supported Python,
    so that the help a notebook prints is the same on each."""

    def _format_action_invocation(self, action):
        if not action.option_strings or action.nargs == 0 or len(action.option_strings) == 1:
            return super()._format_action_invocation(action)
        args = self._format_args(action, self._get_default_metavar_for_optional(action))
        return f"{', '.join(action.option_strings)} {args}"


def _command(sub, name: str, commands: dict) -> argparse.ArgumentParser:
    """A command's parser, its help and description being the docstring of the function that runs it."""
    doc = commands[name].__doc__
    return sub.add_parser(name, help=doc, description=doc, formatter_class=HelpFormatter)


def build_parser(commands: dict, description: str) -> argparse.ArgumentParser:
    """The parser; ``commands`` maps each command's name to the function that runs it (its docstring is its
    help), ``description`` is the program's."""
    parser = argparse.ArgumentParser(prog="python -m cs20lib", description=description, formatter_class=HelpFormatter)
    parser.add_argument(
        "--verbose", action="store_true", help="show TensorFlow's C++ log lines (or set TF_CPP_MIN_LOG_LEVEL yourself)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = _command(sub, "train", commands)
    _corpus_flags(train)
    _training_flags(train)
    _output_flags(train)
    _kernel_flags(train)
    _distribution_flags(train)
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
    where.add_argument(
        "--wait",
        action="store_true",
        help="if another process is training in the run directory, wait for it to finish instead of stopping",
    )
    train.set_defaults(run=commands["train"])

    evaluate = _command(sub, "evaluate", commands)
    evaluate.add_argument("run_dir", help="a run directory written by train")
    _evaluation_flags(evaluate)
    evaluate.set_defaults(run=commands["evaluate"])

    project = _command(sub, "project", commands)
    project.add_argument("run_dir", help="a run directory written by train")
    project.add_argument(
        "--num-visualize",
        type=int,
        default=NUM_VISUALIZE,
        help="how many of the most frequent words (default: %(default)s)",
    )
    project.set_defaults(run=commands["project"])

    tsne = _command(sub, "tsne", commands)
    tsne.add_argument("run_dir", help="a run directory written by train")
    tsne.add_argument(
        "--tsne-words", type=int, default=TSNE_WORDS, help="how many of the most frequent words (default: %(default)s)"
    )
    tsne.add_argument("--output", default=None, help="PNG path (default: RUN_DIR/tsne.png)")
    tsne.set_defaults(run=commands["tsne"])

    neighbours = _command(sub, "neighbours", commands)
    neighbours.add_argument("run_dir", help="a run directory written by train")
    neighbours.add_argument("words", nargs="+", help="query words")
    neighbours.add_argument("-k", type=int, default=8, help="neighbours per word (default: %(default)s)")
    neighbours.set_defaults(run=commands["neighbours"])

    cluster = _command(sub, "cluster", commands)
    cluster.add_argument("--workers", type=int, default=2, help="worker processes (default: %(default)s)")
    cluster.add_argument("--ps", type=int, default=1, help="parameter servers (default: %(default)s)")
    cluster.add_argument("--seconds", type=float, default=None, help="stop after this long (default: at Ctrl-C)")
    cluster.set_defaults(run=commands["cluster"])

    task = _command(sub, "cluster-task", commands)
    task.set_defaults(run=commands["cluster-task"])

    notebooks = _command(sub, "notebooks", commands)
    notebooks.add_argument("folder", help="where to write them (created if need be), e.g. cs20-notebooks")
    notebooks.add_argument(
        "--edition",
        choices=["instructor", "student"],
        default="instructor",
        help="instructor: as the course ran them, solutions included; student: each solution cell replaced by "
        "an 'Exercise: your answer here' placeholder (default: %(default)s)",
    )
    notebooks.add_argument(
        "--force",
        action="store_true",
        help="replace notebooks that were changed since this command wrote them (they are moved into "
        "FOLDER/replaced-<time>/ first); without it nothing is written when any would be replaced",
    )
    notebooks.set_defaults(run=commands["notebooks"])

    stats = _command(sub, "stats", commands)
    _corpus_flags(stats)
    _training_flags(stats)
    stats.set_defaults(run=commands["stats"])
    return parser


# ----------------------------------------------------------------------------------------------
# From flags to settings, checked before anything runs
# ----------------------------------------------------------------------------------------------
def preset_name(args: argparse.Namespace) -> str:
    """The preset asked for; without --preset, the lecture's for its graph model and word2vec's otherwise."""
    return args.preset or ("lecture" if args.api == "tf1" else DEFAULT_PRESET)


def config_from(args: argparse.Namespace) -> Word2VecConfig:
    """The preset's settings with every flag given on the command line on top."""
    preset = PRESETS[preset_name(args)]
    overrides = {}
    for _, name, _, _ in TRAINING_FLAGS:
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    if args.keep_unk is not None:
        overrides["keep_unk"] = args.keep_unk
    for name in ("kernel", "hogwild", "fused_update"):  # the train command's only
        if getattr(args, name, None) is not None:
            overrides[name] = getattr(args, name)
    if overrides.get("vocab_size") == 0:
        overrides["vocab_size"] = None
    if args.steps is not None:
        overrides["num_train_steps"] = args.steps
    config = preset.config(**overrides)  # another --batch-size keeps the preset's rate per pair
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
