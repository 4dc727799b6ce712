"""Evaluating word embeddings: nearest neighbours, the Google analogy set, WordSim-353.

Embeddings: ``[len(vocab), dim]``, row i the vector of ``vocab.words[i]``; row 0 (UNK) is never a query or answer.

* Analogies: the Google set of Mikolov, Chen, Corrado & Dean (2013), "Efficient Estimation of Word
  Representations in Vector Space" (``questions-words.txt``, 19,544 questions in 14 sections), answered by
  their vector offset method, 3CosAdd in Levy & Goldberg (2014), "Linguistic Regularities in Sparse and
  Explicit Word Representations": ``argmax over d' not in {a, b, c} of cos(d', b^ - a^ + c^)``.
* WordSim-353: Finkelstein, Gabrilovich, Matias, Rivlin, Solan, Wolfman & Ruppin (2002), "Placing Search
  in Context: The Concept Revisited": rank correlation of cosine similarity with human judgements.

Which questions and pairs count follows gensim 4.4's ``KeyedVectors.evaluate_word_analogies`` and
``evaluate_word_pairs`` (tests/test_evaluation.py compares the two). Results are plain JSON-ready values.
"""

from __future__ import annotations

import importlib.util
import math
import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from . import checks
from .eval_io import format_metrics, parse_analogies, parse_word_pairs, write_metrics
from .vocab import UNK, UnknownWordError, Vocabulary

__all__ = [
    "ANALOGIES_FILE",
    "EVAL_DIR_ENV",
    "WORDSIM_FILE",
    "eval_data_path",
    "evaluate",
    "evaluate_analogies",
    "evaluate_wordsim",
    "format_metrics",
    "nearest_neighbours",
    "nearest_neighbours_many",
    "read_analogies",
    "write_metrics",
]

#: analogies are answered among the most frequent words only: word2vec's and gensim's 30,000
RESTRICT_VOCAB = 30_000

ANALOGIES_FILE = "questions-words.txt"
WORDSIM_FILE = "wordsim353.tsv"
#: Environment variable naming a folder that holds the evaluation files (instead of gensim's copies).
EVAL_DIR_ENV = "CS20_EVAL_DIR"
#: Elements of one batch of similarity scores (float64: 64 MiB).
_BATCH_ELEMENTS = 1 << 21


# ---------------------------------------------------------------------------------------------- files
def _gensim_test_data_dir() -> Path | None:
    """gensim's ``test/test_data`` folder (where ``gensim.test.utils.datapath`` looks), without importing gensim."""
    try:
        spec = importlib.util.find_spec("gensim")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "test" / "test_data"


def eval_data_path(name: str) -> Path:
    """Where the evaluation file ``name`` is: ``$CS20_EVAL_DIR/name`` when ``CS20_EVAL_DIR`` is set (non-empty),
    else the copy installed with gensim. FileNotFoundError (naming both places) when it is not there."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be the file name of an evaluation set, not {name!r}")
    gensim_dir = _gensim_test_data_dir()
    gensim_path = gensim_dir / name if gensim_dir is not None else None
    gensim_where = str(gensim_path) if gensim_path is not None else "(gensim is not installed)"
    env_dir = os.environ.get(EVAL_DIR_ENV)
    if env_dir:
        path = Path(env_dir) / name
        if path.is_file():
            return path
        raise FileNotFoundError(
            f"evaluation file {name!r} not found: {EVAL_DIR_ENV}={env_dir} but there is no {path}. "
            f"Put the file there, or unset {EVAL_DIR_ENV} to use the copy installed with gensim at {gensim_where}."
        )
    if gensim_path is not None and gensim_path.is_file():
        return gensim_path
    raise FileNotFoundError(
        f"evaluation file {name!r} not found: it is not installed with gensim at {gensim_where}, and "
        f"{EVAL_DIR_ENV} is not set. Install gensim (pip install gensim==4.4.0), or set {EVAL_DIR_ENV} "
        f"to a folder holding {name} ($CS20_EVAL_DIR/{name})."
    )


# ---------------------------------------------------------------------------------------------- inputs
def _as_matrix(embeddings: Any, vocab: Vocabulary) -> np.ndarray:
    return checks.embedding_matrix(embeddings, vocab)


def _candidates(vocab: Vocabulary, restrict_vocab: int | None) -> tuple[int, dict[str, int], np.ndarray]:
    """Candidates are ids 1 .. n (positions 0 .. n-1): n, gensim's ``ok_vocab`` (upper-cased word -> position
    of its most frequent case variant) and each position's canonical position (that of its upper-cased word)."""
    if restrict_vocab is None:
        n = len(vocab) - 1
    elif isinstance(restrict_vocab, bool) or not isinstance(restrict_vocab, (int, np.integer)) or restrict_vocab < 0:
        raise ValueError(f"restrict_vocab must be a non-negative integer or None, not {restrict_vocab!r}")
    else:
        n = min(int(restrict_vocab), len(vocab) - 1)
    keys = [word.upper() for word in vocab.words[1 : n + 1]]
    ok: dict[str, int] = {}
    for position, key in enumerate(keys):
        ok.setdefault(key, position)
    return n, ok, np.array([ok[key] for key in keys], dtype=np.int64)


def _unit_rows(matrix: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Rows scaled to unit length in ``dtype``; zero rows stay zero."""
    rows = np.asarray(matrix, dtype=dtype)
    norms = np.linalg.norm(rows, axis=1)
    norms[norms == 0] = 1.0
    return rows / norms[:, None]


# ---------------------------------------------------------------------------------------------- neighbours
def _query_id(vocab: Vocabulary, word: str) -> int:
    if word == UNK:
        raise UnknownWordError(
            f"{UNK!r} (id 0) stands for every word outside the vocabulary; it is never a query. Ask about a real word."
        )
    return vocab.id(word)


def nearest_neighbours_many(
    embeddings: Any, vocab: Vocabulary, words: Iterable[str], k: int = 8
) -> dict[str, list[tuple[str, float]]]:
    """:func:`nearest_neighbours` for several words at once: ``{word: [(neighbour, cosine), ...]}``.

    Every word is looked up first, so an unknown one raises :class:`~cs20lib.vocab.UnknownWordError`
    (naming it) before any work; the keys keep the order of ``words``.
    """
    matrix = _as_matrix(embeddings, vocab)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be a non-negative integer, not {k!r}")
    queries = list(dict.fromkeys([words] if isinstance(words, str) else words))
    ids = np.array([_query_id(vocab, word) for word in queries], dtype=np.int64)
    result: dict[str, list[tuple[str, float]]] = {word: [] for word in queries}
    take = min(int(k), len(vocab) - 2)  # every entry but UNK and the word itself
    if take <= 0 or not queries:
        return result
    unit = _unit_rows(matrix, np.float64 if matrix.dtype == np.float64 else np.float32)
    step = max(1, _BATCH_ELEMENTS // len(vocab))
    for start in range(0, len(queries), step):
        batch = ids[start : start + step]
        sims = unit[batch] @ unit.T  # [batch, len(vocab)]
        sims[:, 0] = -np.inf  # never UNK
        sims[np.arange(len(batch)), batch] = -np.inf  # never the word itself
        for word, row in zip(queries[start : start + step], sims):
            top = np.argpartition(-row, take - 1)[:take]
            top = top[np.lexsort((top, -row[top]))]  # best first; equal similarities by id
            result[word] = [(vocab.words[i], float(row[i])) for i in top.tolist()]
    return result


def nearest_neighbours(embeddings: Any, vocab: Vocabulary, word: str, k: int = 8) -> list[tuple[str, float]]:
    """The ``k`` words most similar to ``word`` by cosine similarity, best first: ``[(word, cosine), ...]``.

    Neither the word itself nor UNK is a neighbour; with ``k`` beyond the vocabulary every other word is
    returned; equal similarities are ordered by id. An unknown word (or ``"UNK"``) raises
    :class:`~cs20lib.vocab.UnknownWordError`, whose message names it.
    """
    return nearest_neighbours_many(embeddings, vocab, [word], k)[word]


# ---------------------------------------------------------------------------------------------- analogies
def read_analogies(path: str | os.PathLike | None = None) -> list[tuple[str, str, str, str, str]]:
    """The questions "a is to b as c is to d" of an analogy file as ``(section, a, b, c, d)``, words lowercased.

    Google's ``questions-words.txt`` format (Mikolov et al. 2013): ``": section"`` headers, then a question
    of four words per line. ``path=None`` reads the installed Google set (:func:`eval_data_path`).
    """
    sections, questions = parse_analogies(eval_data_path(ANALOGIES_FILE) if path is None else Path(path))
    return [(sections[s], a.lower(), b.lower(), c.lower(), d.lower()) for s, a, b, c, d in questions]


def evaluate_analogies(
    embeddings: Any,
    vocab: Vocabulary,
    path: str | os.PathLike | None = None,
    restrict_vocab: int | None = RESTRICT_VOCAB,
) -> dict[str, Any]:
    """Accuracy on an analogy set (default: Google's ``questions-words.txt``, Mikolov et al. 2013) with 3CosAdd.

    Each question "a is to b as c is to d" is answered by the vector offset method (Mikolov et al. 2013;
    3CosAdd in Levy & Goldberg 2014): the candidate d' of largest cos(d', b^ - a^ + c^) on unit vectors
    (in float64), a, b and c excluded; of equal scores the most frequent word wins. As gensim's
    ``evaluate_word_analogies(path, restrict_vocab)``:

    candidates are the ``restrict_vocab`` most frequent words (``None``: all), matched case-insensitively
    (the most frequent case variant stands for a word; no case variant of a, b or c, and no zero vector, is
    an answer); a question with a word outside them is ``skipped``; ``accuracy = correct / considered``.

    Returns ``{"accuracy", "correct", "considered", "skipped", "restrict_vocab", "sections": {name:
    {"correct", "considered", "accuracy"}}}`` (sections in file order; a repeated section name adds up).
    """
    matrix = _as_matrix(embeddings, vocab)
    n, ok, canonical = _candidates(vocab, restrict_vocab)
    names, questions = parse_analogies(eval_data_path(ANALOGIES_FILE) if path is None else Path(path))
    asked = [(s, [ok[w.upper()] for w in words]) for s, *words in questions if all(w.upper() in ok for w in words)]
    section_of = np.array([s for s, _ in asked], dtype=np.int64)
    quads = np.array([q for _, q in asked], dtype=np.int64).reshape(-1, 4)
    correct = np.zeros(len(quads), dtype=bool)

    with np.errstate(invalid="ignore", over="ignore"):
        unit = _unit_rows(matrix[1 : n + 1])
    dead = ~np.isfinite(unit).all(axis=1) | ~unit.any(axis=1)  # zero or non-finite vectors
    step = max(1, _BATCH_ELEMENTS // max(n, 1))
    for start in range(0, len(quads), step):
        a, b, c, d = quads[start : start + step].T
        queries = _unit_rows(unit[b] - unit[a] + unit[c])
        scores = queries @ unit.T  # [batch, n]: cosines with every candidate
        for word in (a, b, c):  # never a, b, c, nor a case variant of them
            scores[canonical[None, :] == word[:, None]] = -np.inf
        scores[:, dead] = -np.inf
        correct[start : start + step] = canonical[scores.argmax(axis=1)] == d

    sections: dict[str, dict[str, Any]] = {}
    for s, name in enumerate(names):
        entry = sections.setdefault(name, {"correct": 0, "considered": 0, "accuracy": 0.0})
        entry["correct"] += int(correct[section_of == s].sum())
        entry["considered"] += int((section_of == s).sum())
        entry["accuracy"] = entry["correct"] / entry["considered"] if entry["considered"] else 0.0
    total = int(correct.sum())
    restrict = int(n if restrict_vocab is None else restrict_vocab)
    return {
        "accuracy": total / len(quads) if len(quads) else 0.0,
        "correct": total,
        "considered": len(quads),
        "skipped": len(questions) - len(quads),
        "restrict_vocab": restrict,
        "sections": sections,
    }


# ---------------------------------------------------------------------------------------------- WordSim-353
def evaluate_wordsim(
    embeddings: Any, vocab: Vocabulary, path: str | os.PathLike | None = None, restrict_vocab: int | None = 300_000
) -> dict[str, Any]:
    """WordSim-353 (Finkelstein et al. 2002): correlation of cosine similarity with human judgements.

    The file: ``word1<TAB>word2<TAB>score`` lines, ``#`` comments (gensim's ``wordsim353.tsv``). As gensim's
    ``evaluate_word_pairs``: words match case-insensitively among the ``restrict_vocab`` most frequent; a
    pair with a word outside them is ``skipped``; the others give ``scipy.stats.spearmanr`` and ``pearsonr``.

    Returns ``{"spearman", "pearson", "pairs", "skipped"}``; a correlation is None where it is undefined
    (fewer than two pairs, or constant scores).
    """
    from scipy import stats

    matrix = _as_matrix(embeddings, vocab)
    n, ok, _ = _candidates(vocab, restrict_vocab)
    pairs, gold, skipped = [], [], 0
    for first, second, score in parse_word_pairs(eval_data_path(WORDSIM_FILE) if path is None else Path(path)):
        if first.upper() in ok and second.upper() in ok:
            pairs.append((ok[first.upper()] + 1, ok[second.upper()] + 1))  # vocabulary ids
            gold.append(score)
        else:
            skipped += 1

    spearman = pearson = None
    if len(pairs) >= 2:
        ids1, ids2 = np.array(pairs).T
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # constant input: NaN, reported as None
            cosines = np.einsum("ij,ij->i", _unit_rows(matrix[ids1]), _unit_rows(matrix[ids2]))
            spearman, pearson = (float(f(gold, cosines).statistic) for f in (stats.spearmanr, stats.pearsonr))
        spearman, pearson = (x if math.isfinite(x) else None for x in (spearman, pearson))
    return {"spearman": spearman, "pearson": pearson, "pairs": len(pairs), "skipped": skipped}


# ---------------------------------------------------------------------------------------------- both
def evaluate(
    embeddings: Any,
    vocab: Vocabulary,
    analogies_path: str | os.PathLike | None = None,
    wordsim_path: str | os.PathLike | None = None,
    restrict_vocab: int | None = RESTRICT_VOCAB,
) -> dict[str, Any]:
    """Both evaluations: ``{"analogies": evaluate_analogies(...), "wordsim": evaluate_wordsim(...)}``.

    ``restrict_vocab`` applies to the analogies (word2vec's 30,000 most frequent words); WordSim-353
    uses gensim's default of 300,000.
    """
    matrix = _as_matrix(embeddings, vocab)
    return {
        "analogies": evaluate_analogies(matrix, vocab, analogies_path, restrict_vocab=restrict_vocab),
        "wordsim": evaluate_wordsim(matrix, vocab, wordsim_path),
    }
