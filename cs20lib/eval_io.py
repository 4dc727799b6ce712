"""Evaluation files in and out for :mod:`cs20lib.evaluation`: reading the analogy and word-pair formats as
gensim reads them, writing metrics as JSON and printing them as a few lines."""

from __future__ import annotations

import bz2
import gzip
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .files import write_text_atomic

__all__ = ["format_metrics", "parse_analogies", "parse_word_pairs", "read_text", "write_metrics"]


def read_text(path: Path, what: str) -> str:
    """The text of a UTF-8 file, plain or compressed (.gz, .bz2), as gensim's ``utils.open`` reads it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"no {what} file at {path}") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{path} is a folder, not a {what} file") from None
    try:
        if path.suffix in (".gz", ".bz2"):
            data = (gzip if path.suffix == ".gz" else bz2).decompress(data)
        return data.decode("utf-8")
    except (OSError, EOFError, ValueError) as exc:  # bad compression, or UnicodeDecodeError (a ValueError)
        raise ValueError(f"{path} is not a readable UTF-8 {what} file ({exc})") from None


def parse_analogies(path: Path) -> tuple[list[str], list[tuple[int, str, str, str, str]]]:
    """Section names and questions (section index, a, b, c, d) as gensim reads them: ``": name"`` starts a
    section, a line of four words is a question, other lines are skipped; a line before any header is an error."""
    sections: list[str] = []
    questions: list[tuple[int, str, str, str, str]] = []
    for line_no, line in enumerate(read_text(path, "analogy questions").split("\n"), start=1):
        if line.startswith(": "):
            sections.append(line.lstrip(": ").strip())
        elif not sections:
            raise ValueError(
                f"{path}, line {line_no}: {line.strip()[:60]!r} comes before any section header; an analogy file "
                f"(questions-words.txt format) starts with a line like ': capital-common-countries'"
            )
        elif len(words := line.split()) == 4:
            questions.append((len(sections) - 1, *words))
    return sections, questions


def parse_word_pairs(path: Path) -> list[tuple[str, str, float]]:
    """The ``(word1, word2, score)`` lines of a word-pair file (gensim's ``wordsim353.tsv`` format: tab-separated,
    ``#`` comments); other lines are skipped uncounted, as gensim skips them."""
    pairs = []
    for line in read_text(path, "word-pair similarity").replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        fields = line.split("\t")
        if line.startswith("#") or len(fields) != 3:
            continue
        try:
            pairs.append((fields[0], fields[1], float(fields[2])))
        except ValueError:
            continue
    return pairs


def _plain(value: Any) -> Any:
    """JSON fallback for numpy scalars and arrays (and paths) that slipped into a metrics dict."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_metrics(path: str | os.PathLike, metrics: Mapping[str, Any]) -> Path:
    """Write ``metrics`` as JSON (indent 2, sorted keys) to ``path`` atomically (no reader sees half a file).

    numpy scalars and arrays are written as plain numbers and lists. Returns the path.
    """
    return write_text_atomic(path, json.dumps(metrics, indent=2, sort_keys=True, default=_plain) + "\n")


def _percent(correct: int, considered: int) -> str:
    return f"{100.0 * correct / considered:.1f}% ({correct:,}/{considered:,})" if considered else "n/a (0/0)"


def _analogy_lines(result: Mapping[str, Any]) -> list[str]:
    restrict = result.get("restrict_vocab")
    within = f"top {restrict:,} words" if isinstance(restrict, int) else "all words"
    lines = [
        f"analogies (3CosAdd, {within}): {100.0 * result['accuracy']:.1f}% "
        f"({result['correct']:,}/{result['considered']:,} questions; {result['skipped']:,} skipped, out of vocabulary)"
    ]
    sections = result.get("sections") or {}
    # Google's set: the "gram*" sections are the syntactic questions, the others semantic (Mikolov et al.)
    groups = {
        "semantic": [s for name, s in sections.items() if not name.startswith("gram")],
        "syntactic": [s for name, s in sections.items() if name.startswith("gram")],
    }
    if all(groups.values()):
        lines.append(
            "  "
            + ", ".join(
                f"{label} {_percent(sum(s['correct'] for s in group), sum(s['considered'] for s in group))}"
                for label, group in groups.items()
            )
        )
    elif 1 < len(sections) <= 6:  # a small set of its own (e.g. the toy corpus's): every section
        lines.append(
            "  " + ", ".join(f"{name} {_percent(s['correct'], s['considered'])}" for name, s in sections.items())
        )
    return lines


def _wordsim_lines(result: Mapping[str, Any]) -> list[str]:
    spearman, pearson = ("n/a" if x is None else f"{x:.3f}" for x in (result["spearman"], result["pearson"]))
    return [
        f"WordSim-353: Spearman {spearman}, Pearson {pearson} "
        f"({result['pairs']:,} pairs; {result['skipped']:,} skipped, out of vocabulary)"
    ]


def format_metrics(metrics: Mapping[str, Any]) -> str:
    """A few readable lines: analogy accuracy (overall, semantic and syntactic) and WordSim-353.

    Takes what :func:`evaluate` returns, or the result of :func:`evaluate_analogies` or
    :func:`evaluate_wordsim` alone. Percentages have one decimal, correlations three.
    """
    if "analogies" in metrics or "wordsim" in metrics:
        lines = _analogy_lines(metrics["analogies"]) if metrics.get("analogies") is not None else []
        lines += _wordsim_lines(metrics["wordsim"]) if metrics.get("wordsim") is not None else []
    elif "accuracy" in metrics:
        lines = _analogy_lines(metrics)
    elif "spearman" in metrics:
        lines = _wordsim_lines(metrics)
    else:
        raise ValueError("metrics must come from evaluate(), evaluate_analogies() or evaluate_wordsim()")
    return "\n".join(lines)
