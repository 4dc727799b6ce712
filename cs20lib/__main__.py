"""Command line: ``python -m cs20lib COMMAND`` (``--help`` lists the commands and their flags)."""

from __future__ import annotations

import argparse
import sys
import time

from .corpus import CorpusError, load_corpus
from .skipgram import SkipGramStream
from .vocab import Vocabulary


def _add_corpus_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--corpus",
        default=None,
        help="'toy' for the built-in toy corpus, or a path to a text8-format file (plain or zipped); "
        "default: $CS20_TEXT8 if set, else text8 downloaded to the cache (toy corpus if offline)",
    )
    parser.add_argument("--max-words", type=int, default=None, help="use only the first N words of the corpus")
    parser.add_argument("--vocab-size", type=int, default=50_000, help="vocabulary size including UNK (lecture: 50000)")


def cmd_stats(args: argparse.Namespace) -> int:
    """Load the corpus, build the vocabulary and print what the input pipeline makes of it."""
    start = time.perf_counter()
    corpus = load_corpus(args.corpus, args.max_words, fallback_to_toy=args.corpus is None)
    loaded = time.perf_counter()
    vocab = Vocabulary.build(corpus.words, args.vocab_size)
    ids = vocab.encode(corpus.words)
    built = time.perf_counter()
    unk_share = float((ids == 0).mean())
    print(f"corpus      {corpus.name}: {len(corpus):,} words from {corpus.source} ({loaded - start:.1f} s)")
    print(f"vocabulary  {len(vocab):,} entries; most common: {', '.join(vocab.words[1:9])}; UNK is {unk_share:.1%} of tokens ({built - loaded:.1f} s)")
    stream = SkipGramStream(ids, args.batch_size, args.skip_window, seed=0, epochs=1)
    pairs = stream.pairs_per_epoch()
    start = time.perf_counter()
    made = sum(centers.size for centers, _ in stream.chunks())
    seconds = time.perf_counter() - start
    print(f"pairs       {pairs:,} (center, target) pairs per epoch with skip_window={args.skip_window}")
    print(f"pipeline    {made:,} pairs in {made // args.batch_size:,} batches of {args.batch_size} in {seconds:.2f} s = {made / seconds:,.0f} pairs/s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cs20lib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    stats = commands.add_parser("stats", help=cmd_stats.__doc__, description=cmd_stats.__doc__)
    _add_corpus_flags(stats)
    stats.add_argument("--skip-window", type=int, default=1, help="largest context window (lecture: 1)")
    stats.add_argument("--batch-size", type=int, default=128, help="pairs per batch (lecture: 128)")
    stats.set_defaults(run=cmd_stats)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (CorpusError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
