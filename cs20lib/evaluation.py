"""Evaluating word embeddings: nearest neighbours, the Google analogy set, WordSim-353.

An embedding matrix here is a float array ``[len(vocab), dim]`` whose row i is the vector of
``vocab.words[i]`` (a :class:`cs20lib.vocab.Vocabulary`). Row 0 is ``UNK``, the stand-in for every
word outside the vocabulary: it is never a query, a candidate or an answer.

What is implemented, and where it comes from
--------------------------------------------
* :func:`nearest_neighbours`: the words whose vectors have the largest cosine similarity with a word's
  vector (the lecture's "most similar words" check, and word2vec's ``distance`` tool).
* :func:`evaluate_analogies`: the Google analogy test set of Mikolov, Chen, Corrado & Dean (2013),
  "Efficient Estimation of Word Representations in Vector Space" (``questions-words.txt``: 19,544
  questions "a is to b as c is to d" in 14 sections, 5 semantic and 9 syntactic ``gram*``). A question
  is answered by the vector offset method of that paper, which Levy & Goldberg (2014), "Linguistic
  Regularities in Sparse and Explicit Word Representations", call 3CosAdd::

      answer = argmax over candidates d' not in {a, b, c} of cos(d', b - a + c)

  on unit-normalised vectors. Which questions count, and how ties and case are handled, follow gensim
  4.4's ``KeyedVectors.evaluate_word_analogies`` (the reference implementation the project compares
  against) exactly; see :func:`evaluate_analogies`.
* :func:`evaluate_wordsim`: WordSim-353 of Finkelstein, Gabrilovich, Matias, Rivlin, Solan, Wolfman &
  Ruppin (2002), "Placing Search in Context: The Concept Revisited": 353 word pairs with mean human
  similarity scores; the model's score is the Spearman rank correlation (and Pearson's r) between those
  and the cosine similarities, as gensim's ``KeyedVectors.evaluate_word_pairs`` computes them.

The evaluation files are read from where they are installed (:func:`eval_data_path`): gensim ships
both, and ``CS20_EVAL_DIR`` points elsewhere. Every figure returned is a plain Python int, float, str or
None, so the results go straight into JSON (:func:`write_metrics`) or a printout (:func:`format_metrics`).
This module imports neither TensorFlow nor gensim.
"""

from __future__ import annotations

import bz2
import gzip
import importlib.util
import json
import math
import os
import secrets
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

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

ANALOGIES_FILE = "questions-words.txt"
WORDSIM_FILE = "wordsim353.tsv"
#: Environment variable naming a folder that holds the evaluation files (instead of gensim's copies).
EVAL_DIR_ENV = "CS20_EVAL_DIR"

#: gensim's ``most_similar(..., topn=5)`` inside ``evaluate_word_analogies``: how far down the ranking
#: it looks for a prediction that is not a case variant of a, b or c.
_GENSIM_TOPN = 5
#: Score-matrix elements per batch of analogy questions (float32: 64 MiB).
_BATCH_ELEMENTS = 1 << 24


# ----------------------------------------------------------------------------------------------
# Where the evaluation files are
# ----------------------------------------------------------------------------------------------
def _gensim_test_data_dir() -> Path | None:
    """gensim's ``test/test_data`` folder (what ``gensim.test.utils.datapath`` joins onto), without importing gensim."""
    try:
        spec = importlib.util.find_spec("gensim")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "test" / "test_data"


def eval_data_path(name: str) -> Path:
    """Where the evaluation file ``name`` (e.g. ``"questions-words.txt"``, ``"wordsim353.tsv"``) is.

    ``$CS20_EVAL_DIR/name`` when the environment variable ``CS20_EVAL_DIR`` is set (and non-empty), else
    the copy installed with gensim (the path ``gensim.test.utils.datapath(name)`` gives). Raises
    FileNotFoundError naming both places when the file is not where it should be.
    """
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


def _read_text(path: Path, what: str) -> str:
    """The text of a UTF-8 file, plain or compressed (.gz, .bz2), as gensim's ``utils.open`` reads it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"no {what} file at {path}") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{path} is a folder, not a {what} file") from None
    try:
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        elif path.suffix == ".bz2":
            data = bz2.decompress(data)
        return data.decode("utf-8")
    except (OSError, EOFError, ValueError) as exc:  # bad compression, or UnicodeDecodeError (a ValueError)
        raise ValueError(f"{path} is not a readable UTF-8 {what} file ({exc})") from None


# ----------------------------------------------------------------------------------------------
# Checking inputs
# ----------------------------------------------------------------------------------------------
def _as_matrix(embeddings: Any, vocab: Vocabulary) -> np.ndarray:
    """The embeddings as a 2-D numeric numpy array with one row per vocabulary entry (no copy if possible)."""
    if not isinstance(vocab, Vocabulary):
        raise TypeError(f"vocab must be a cs20lib.vocab.Vocabulary, not {type(vocab).__name__}")
    matrix = np.asarray(embeddings)
    if matrix.ndim != 2 or matrix.shape[1] < 1:
        raise ValueError(f"embeddings must be a 2-D array [len(vocab), dim], not an array of shape {matrix.shape}")
    if matrix.dtype.kind not in "fiu":
        raise ValueError(f"embeddings must hold real numbers, not {matrix.dtype}")
    if matrix.shape[0] != len(vocab):
        raise ValueError(
            f"embeddings have {matrix.shape[0]:,} rows but the vocabulary has {len(vocab):,} entries "
            f"(with {UNK}); row i must be the vector of vocab.words[i]"
        )
    return matrix


def _candidate_count(restrict_vocab: int | None, vocab: Vocabulary) -> int:
    """How many vocabulary ids (1 .. n) are candidates: the ``restrict_vocab`` most frequent words, UNK excluded."""
    if restrict_vocab is None:
        return len(vocab) - 1
    if isinstance(restrict_vocab, bool) or not isinstance(restrict_vocab, (int, np.integer)) or restrict_vocab < 0:
        raise ValueError(f"restrict_vocab must be a non-negative integer or None, not {restrict_vocab!r}")
    return min(int(restrict_vocab), len(vocab) - 1)


def _ok_vocab(vocab: Vocabulary, n: int) -> tuple[list[str], dict[str, int], np.ndarray]:
    """gensim's case-insensitive lookup over the first ``n`` words after UNK.

    Positions are 0-based over ``vocab.words[1 : n + 1]`` (position j is vocabulary id j + 1), the order
    of a gensim ``KeyedVectors`` holding the same words without UNK. Returns each position's key (the
    upper-cased word), the key -> position map in which the most frequent case variant wins (gensim's
    ``ok_vocab``), and each position's canonical position (that of its key).
    """
    keys = [word.upper() for word in vocab.words[1 : n + 1]]
    ok: dict[str, int] = {}
    for position, key in enumerate(keys):
        ok.setdefault(key, position)
    canonical = np.fromiter((ok[key] for key in keys), dtype=np.int64, count=len(keys))
    return keys, ok, canonical


# ----------------------------------------------------------------------------------------------
# Nearest neighbours
# ----------------------------------------------------------------------------------------------
def _query_id(vocab: Vocabulary, word: str) -> int:
    if word == UNK:
        raise UnknownWordError(
            f"{UNK!r} (id 0) stands for every word outside the vocabulary; it is never a query. Ask about a real word."
        )
    return vocab.id(word)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float64 stays float64, anything else becomes float32); zero rows stay zero."""
    dtype = np.float64 if matrix.dtype == np.float64 else np.float32
    rows = np.asarray(matrix, dtype=dtype)
    norms = np.linalg.norm(rows, axis=1)
    norms[norms == 0] = 1.0
    return rows / norms[:, None]


def nearest_neighbours_many(
    embeddings: Any, vocab: Vocabulary, words: Iterable[str], k: int = 8
) -> dict[str, list[tuple[str, float]]]:
    """:func:`nearest_neighbours` for several words at once: ``{word: [(neighbour, cosine), ...]}``.

    All words are looked up before any work is done, so an unknown word raises
    :class:`~cs20lib.vocab.UnknownWordError` (naming it) straight away. One matrix product per batch of
    queries; the keys keep the order of ``words``.
    """
    matrix = _as_matrix(embeddings, vocab)
    if isinstance(words, str):
        words = [words]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be a non-negative integer, not {k!r}")
    queries = list(dict.fromkeys(words))
    ids = np.array([_query_id(vocab, word) for word in queries], dtype=np.int64)
    result: dict[str, list[tuple[str, float]]] = {word: [] for word in queries}
    size = len(vocab)
    take = min(int(k), size - 2)  # every entry but UNK and the word itself
    if take <= 0 or not queries:
        return result
    unit = _unit_rows(matrix)
    step = max(1, _BATCH_ELEMENTS // size)
    for start in range(0, len(queries), step):
        batch = ids[start : start + step]
        rows = np.arange(len(batch))
        sims = unit[batch] @ unit.T  # cosine similarities [batch, size]
        sims[:, 0] = -np.inf  # never UNK
        sims[rows, batch] = -np.inf  # never the word itself
        top = np.argpartition(-sims, take - 1, axis=1)[:, :take]  # the best `take`, unordered
        values = np.take_along_axis(sims, top, axis=1)
        order = np.lexsort((top, -values), axis=-1)  # best first; equal similarities by id
        top = np.take_along_axis(top, order, axis=1)
        values = np.take_along_axis(values, order, axis=1)
        for row, word in enumerate(queries[start : start + step]):
            result[word] = [(vocab.words[int(i)], float(v)) for i, v in zip(top[row], values[row])]
    return result


def nearest_neighbours(embeddings: Any, vocab: Vocabulary, word: str, k: int = 8) -> list[tuple[str, float]]:
    """The ``k`` words most similar to ``word`` by cosine similarity, best first: ``[(word, cosine), ...]``.

    The word itself and UNK are never neighbours; with ``k`` beyond the vocabulary every other word is
    returned. Equal similarities are ordered by id (frequency). A word outside the vocabulary (or
    ``"UNK"`` itself) raises :class:`~cs20lib.vocab.UnknownWordError`, whose message names it.
    """
    return nearest_neighbours_many(embeddings, vocab, [word], k)[word]


# ----------------------------------------------------------------------------------------------
# The Google analogy set (Mikolov et al. 2013), answered with 3CosAdd
# ----------------------------------------------------------------------------------------------
def _parse_analogies(path: Path) -> tuple[list[str], list[tuple[int, str, str, str, str]]]:
    """Section names in file order and the questions as (section index, a, b, c, d), words as written.

    Line by line as gensim reads the file: ``": name"`` starts a section; a line of four words is a
    question; any other line (blank, too few or too many words) is skipped and not counted; a question
    before the first header is an error.
    """
    text = _read_text(path, "analogy questions")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    sections: list[str] = []
    questions: list[tuple[int, str, str, str, str]] = []
    for line_no, line in enumerate(lines, start=1):
        if line.startswith(": "):
            sections.append(line.lstrip(": ").strip())
            continue
        if not sections:
            raise ValueError(
                f"{path}, line {line_no}: {line.strip()[:60]!r} comes before any section header; "
                f"an analogy file (questions-words.txt format) starts with a line like ': capital-common-countries'"
            )
        words = line.split()
        if len(words) == 4:
            questions.append((len(sections) - 1, words[0], words[1], words[2], words[3]))
    return sections, questions


def read_analogies(path: str | os.PathLike | None = None) -> list[tuple[str, str, str, str, str]]:
    """The questions of an analogy file as ``(section, a, b, c, d)``: "a is to b as c is to d".

    The format of Google's ``questions-words.txt`` (Mikolov et al. 2013): ``": section"`` header lines,
    then one question of four whitespace-separated words per line. Words are lowercased (gensim compares
    them case-insensitively by default, ``case_insensitive=True``); section names are kept as written.
    Lines that are not four words are skipped, as gensim skips them. ``path=None`` reads the installed
    Google set (:func:`eval_data_path`).
    """
    path = eval_data_path(ANALOGIES_FILE) if path is None else Path(path)
    sections, questions = _parse_analogies(path)
    return [(sections[s], a.lower(), b.lower(), c.lower(), d.lower()) for s, a, b, c, d in questions]


class _AnalogyTable:
    """The candidate vectors of an analogy evaluation: positions 0 .. n-1 = vocabulary ids 1 .. n.

    Holds them twice: raw float32 rows with their norms (gensim's ``vectors`` and ``norms``, for the
    exact replay of gensim's arithmetic) and unit rows (for the batched search).
    """

    def __init__(self, matrix: np.ndarray, n: int):
        self.vectors = np.array(matrix[1 : n + 1], dtype=np.float32, order="C")  # a fresh copy, like gensim's
        self.norms = np.linalg.norm(self.vectors, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.unit = self.vectors / self.norms[:, None]
        # rows gensim can never return (a zero or non-finite vector gives NaN scores, which rank last)
        self.dead = np.flatnonzero(~(np.isfinite(self.norms) & (self.norms > 0)))

    def batch_queries(self, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Unit query vectors for many questions: (b^ + c^ - a^) / 3, normalised, float32 (as gensim)."""
        with np.errstate(invalid="ignore", over="ignore"):
            mean = (self.unit[b] + self.unit[c] - self.unit[a]).astype(np.float64) / 3.0
            length = np.sqrt(np.einsum("ij,ij->i", mean, mean))
            length[~(length > 0)] = 1.0
            return (mean / length[:, None]).astype(np.float32)

    def gensim_prediction(self, a: int, b: int, c: int, keys: list[str]) -> str | None:
        """Replay gensim 4.4's choice for one question, operation for operation.

        ``most_similar(positive=[b, c], negative=[a], topn=5, restrict_vocab=n)``: the weighted mean of
        the unit vectors (accumulated in float32, divided by the total weight 3 in float64), normalised
        with ``matutils.unitvec`` (BLAS dnrm2 / scaling in float64, back to float32); scores
        ``dot(vectors, mean) / norms``; the top 5 + 3 by ``matutils.argsort`` with a, b and c removed;
        then ``evaluate_word_analogies`` takes the first whose key is not that of a, b or c.
        """
        from scipy.linalg.blas import dnrm2  # the BLAS routine gensim's unitvec uses

        mean = np.zeros(self.vectors.shape[1], dtype=np.float32)
        with np.errstate(all="ignore"):
            mean += self.unit[b]
            mean += self.unit[c]
            mean -= self.unit[a]
            mean64 = mean.astype(np.float64) / 3.0
            length = dnrm2(mean64)
            query = (mean64 * (1.0 / length) if length > 0.0 else mean64).astype(np.float32)
            scores = np.dot(self.vectors, query) / self.norms
        negated = -scores
        topn = _GENSIM_TOPN + 3
        if topn >= negated.size:
            best = np.argsort(negated)[:topn]
        else:
            partial = np.argpartition(negated, topn)[:topn]
            best = partial.take(np.argsort(negated.take(partial)))
        excluded = {a, b, c}
        ignore = {keys[a], keys[b], keys[c]}
        predicted = None
        for position in [int(p) for p in best if int(p) not in excluded][:_GENSIM_TOPN]:
            predicted = keys[position]
            if predicted not in ignore:
                break
        return predicted


def evaluate_analogies(
    embeddings: Any,
    vocab: Vocabulary,
    path: str | os.PathLike | None = None,
    restrict_vocab: int | None = 30_000,
) -> dict[str, Any]:
    """Accuracy on an analogy set (default: Google's ``questions-words.txt``, Mikolov et al. 2013) with 3CosAdd.

    Each question "a is to b as c is to d" is answered with the vector offset method (Mikolov et al.
    2013; named 3CosAdd by Levy & Goldberg 2014): the candidate d' maximising cos(d', b^ - a^ + c^) over
    unit vectors, a, b and c excluded. The semantics are those of gensim 4.4's
    ``KeyedVectors.evaluate_word_analogies(path, restrict_vocab=restrict_vocab)`` (defaults
    ``case_insensitive=True``, ``dummy4unknown=False``) on a KeyedVectors holding the same vectors in
    vocabulary order without UNK:

    * candidates are the ``restrict_vocab`` most frequent words, vocabulary ids 1 .. restrict_vocab
      (``None``: all); words match case-insensitively, the most frequent case variant standing for a word;
    * a question with a word outside the candidates is skipped: counted in ``skipped``, not in accuracy;
    * ``accuracy = correct / considered`` per section and over all sections (gensim's "Total accuracy"
      row is the top level here, not a section), 0.0 when nothing was considered;
    * the prediction is gensim's: its score is ``most_similar(positive=[b, c], negative=[a])``, the mean
      of the weighted unit vectors, normalised, against the candidates; its top 5 are searched for the
      first word that is not a case variant of a, b or c.

    Questions are scored in batches (float32 queries times the unit candidate matrix); where the best
    score is within float32 rounding of another (or a case variant of a, b or c wins), the question is
    replayed with gensim's exact arithmetic, so near ties resolve as gensim resolves them.

    Returns ``{"accuracy", "correct", "considered", "skipped", "restrict_vocab", "sections": {name:
    {"correct", "considered", "accuracy"}}}`` (sections in file order; a repeated section name adds up).
    """
    matrix = _as_matrix(embeddings, vocab)
    n = _candidate_count(restrict_vocab, vocab)
    path = eval_data_path(ANALOGIES_FILE) if path is None else Path(path)
    names, questions = _parse_analogies(path)
    keys, ok, canonical = _ok_vocab(vocab, n)

    section_of, quads, skipped = [], [], 0
    for section, *words in questions:
        upper = [word.upper() for word in words]
        if all(word in ok for word in upper):
            section_of.append(section)
            quads.append([ok[word] for word in upper])
        else:
            skipped += 1
    section_of = np.asarray(section_of, dtype=np.int64)
    quads = np.asarray(quads, dtype=np.int64).reshape(-1, 4)
    correct = np.zeros(len(quads), dtype=bool)

    if len(quads):
        table = _AnalogyTable(matrix, n)
        # Each float32 evaluation of a cosine of unit vectors is within about (dim + 2) units of roundoff
        # (u = eps / 2) of the exact value, so ours and gensim's can order two scores differently only
        # if they are within 4 (dim + 2) u of each other; twice that margin sends a question to replay.
        tolerance = 4.0 * (matrix.shape[1] + 2) * float(np.finfo(np.float32).eps)
        step = max(1, min(len(quads), _BATCH_ELEMENTS // n))
        buffer = np.empty((step, n), dtype=np.float32)
        replay = []
        for start in range(0, len(quads), step):
            a, b, c, d = quads[start : start + step].T
            rows = np.arange(len(a))
            with np.errstate(invalid="ignore", over="ignore"):
                scores = np.matmul(table.batch_queries(a, b, c), table.unit.T, out=buffer[: len(a)])  # [batch, n]
            for excluded in (a, b, c):
                scores[rows, excluded] = -np.inf
            if len(table.dead):
                scores[:, table.dead] = -np.inf
            best = scores.argmax(axis=1)
            top = scores[rows, best]
            scores[rows, best] = -np.inf
            with np.errstate(invalid="ignore"):
                crowded = scores.max(axis=1) >= top - tolerance  # the runner-up is within roundoff
            variant = (canonical[best] == a) | (canonical[best] == b) | (canonical[best] == c)
            unsure = crowded | variant | ~np.isfinite(top)
            correct[start : start + step] = (canonical[best] == d) & ~unsure
            replay.extend((start + np.flatnonzero(unsure)).tolist())
        for i in replay:
            a, b, c, d = (int(x) for x in quads[i])
            correct[i] = table.gensim_prediction(a, b, c, keys) == keys[d]

    sections: dict[str, dict[str, Any]] = {}
    right = np.bincount(section_of, weights=correct, minlength=len(names)) if names else []
    asked = np.bincount(section_of, minlength=len(names)) if names else []
    for s, name in enumerate(names):
        entry = sections.setdefault(name, {"correct": 0, "considered": 0, "accuracy": 0.0})
        entry["correct"] += int(right[s])
        entry["considered"] += int(asked[s])
        entry["accuracy"] = entry["correct"] / entry["considered"] if entry["considered"] else 0.0
    total_correct = int(correct.sum())
    considered = int(len(quads))
    return {
        "accuracy": total_correct / considered if considered else 0.0,
        "correct": total_correct,
        "considered": considered,
        "skipped": int(skipped),
        "restrict_vocab": int(n if restrict_vocab is None else restrict_vocab),
        "sections": sections,
    }


# ----------------------------------------------------------------------------------------------
# WordSim-353 (Finkelstein et al. 2002)
# ----------------------------------------------------------------------------------------------
def _gensim_unitvec(vector: np.ndarray) -> np.ndarray:
    """gensim's ``matutils.unitvec`` for a float32 vector: BLAS dnrm2 and scaling in float64, back to float32."""
    from scipy.linalg.blas import dnrm2

    wide = vector.astype(np.float64)
    length = dnrm2(wide)
    if length > 0.0:
        return (wide * (1.0 / length)).astype(vector.dtype)
    return vector


def _correlation(result: Any) -> float | None:
    value = float(result.statistic)
    return value if math.isfinite(value) else None


def evaluate_wordsim(
    embeddings: Any,
    vocab: Vocabulary,
    path: str | os.PathLike | None = None,
    restrict_vocab: int | None = 300_000,
) -> dict[str, Any]:
    """WordSim-353 (Finkelstein et al. 2002): correlation of cosine similarity with human judgements.

    The file is gensim's ``wordsim353.tsv`` format: ``word1<TAB>word2<TAB>score`` per line, ``#`` lines
    are comments, malformed lines are skipped uncounted. As gensim's ``KeyedVectors.evaluate_word_pairs``
    with its defaults (``restrict_vocab=300000``, ``case_insensitive=True``, ``dummy4unknown=False``):
    words match case-insensitively among the ``restrict_vocab`` most frequent words (UNK excluded); a pair
    with a word outside them is skipped and counted in ``skipped``; for the others the model's score is
    the cosine similarity in float32 and the figures are ``scipy.stats.spearmanr`` and
    ``scipy.stats.pearsonr`` against the human scores.

    Returns ``{"spearman", "pearson", "pairs", "skipped"}``; a correlation is None where it is undefined
    (fewer than two pairs, or constant scores), where gensim would raise or give NaN.
    """
    from scipy import stats

    matrix = _as_matrix(embeddings, vocab)
    n = _candidate_count(restrict_vocab, vocab)
    path = eval_data_path(WORDSIM_FILE) if path is None else Path(path)
    text = _read_text(path, "word-pair similarity")
    _, ok, _ = _ok_vocab(vocab, n)

    gold: list[float] = []
    model: list[np.float32] = []
    skipped = 0
    unit_cache: dict[int, np.ndarray] = {}

    def unit(position: int) -> np.ndarray:
        if position not in unit_cache:
            unit_cache[position] = _gensim_unitvec(np.asarray(matrix[position + 1], dtype=np.float32))
        return unit_cache[position]

    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            continue
        try:
            score = float(fields[2])
        except ValueError:
            continue
        first, second = fields[0].upper(), fields[1].upper()
        if first not in ok or second not in ok:
            skipped += 1
            continue
        gold.append(score)
        with np.errstate(all="ignore"):
            model.append(np.dot(unit(ok[first]), unit(ok[second])))

    spearman = pearson = None
    if len(gold) >= 2:
        gold_array, model_array = np.asarray(gold, dtype=np.float64), np.asarray(model, dtype=np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # constant input: NaN, reported as None
            spearman = _correlation(stats.spearmanr(gold_array, model_array))
            pearson = _correlation(stats.pearsonr(gold_array, model_array))
    return {"spearman": spearman, "pearson": pearson, "pairs": len(gold), "skipped": int(skipped)}


# ----------------------------------------------------------------------------------------------
# Both, saved and printed
# ----------------------------------------------------------------------------------------------
def evaluate(
    embeddings: Any,
    vocab: Vocabulary,
    analogies_path: str | os.PathLike | None = None,
    wordsim_path: str | os.PathLike | None = None,
    restrict_vocab: int | None = 30_000,
) -> dict[str, Any]:
    """Both evaluations: ``{"analogies": evaluate_analogies(...), "wordsim": evaluate_wordsim(...)}``.

    ``restrict_vocab`` applies to the analogies (the word2vec convention of the 30,000 most frequent
    words); WordSim-353 uses gensim's default of 300,000.
    """
    matrix = _as_matrix(embeddings, vocab)
    return {
        "analogies": evaluate_analogies(matrix, vocab, analogies_path, restrict_vocab=restrict_vocab),
        "wordsim": evaluate_wordsim(matrix, vocab, wordsim_path),
    }


def _plain(value: Any) -> Any:
    """JSON fallback for numpy scalars and arrays that slipped into a metrics dict."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_metrics(path: str | os.PathLike, metrics: Mapping[str, Any]) -> Path:
    """Write ``metrics`` as JSON (indent 2, sorted keys) to ``path``, atomically; returns the path.

    The JSON goes to a temporary file in the same folder, renamed over ``path`` once complete, so a
    reader never sees half a file. numpy scalars and arrays are written as plain numbers and lists.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(metrics, indent=2, sort_keys=True, default=_plain) + "\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "x", encoding="utf-8") as stream:  # a new file, with the usual permissions
            stream.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


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
    syntactic = [s for name, s in sections.items() if name.startswith("gram")]
    semantic = [s for name, s in sections.items() if not name.startswith("gram")]
    if syntactic and semantic:
        parts = []
        for label, group in (("semantic", semantic), ("syntactic", syntactic)):
            right, asked = sum(s["correct"] for s in group), sum(s["considered"] for s in group)
            parts.append(f"{label} {_percent(right, asked)}")
        lines.append("  " + ", ".join(parts))
    elif 1 < len(sections) <= 6:  # a small set of its own (e.g. the toy corpus's): every section
        lines.append("  " + ", ".join(f"{name} {_percent(s['correct'], s['considered'])}" for name, s in sections.items()))
    return lines


def _wordsim_lines(result: Mapping[str, Any]) -> list[str]:
    def fmt(value: Any) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    return [
        f"WordSim-353: Spearman {fmt(result['spearman'])}, Pearson {fmt(result['pearson'])} "
        f"({result['pairs']:,} pairs; {result['skipped']:,} skipped, out of vocabulary)"
    ]


def format_metrics(metrics: Mapping[str, Any]) -> str:
    """A few readable lines for printing: analogy accuracy (overall, semantic and syntactic) and WordSim-353.

    Takes what :func:`evaluate` returns, or the result of :func:`evaluate_analogies` or
    :func:`evaluate_wordsim` alone. Percentages have one decimal, correlations three.
    """
    lines: list[str] = []
    if "analogies" in metrics or "wordsim" in metrics:
        if metrics.get("analogies") is not None:
            lines += _analogy_lines(metrics["analogies"])
        if metrics.get("wordsim") is not None:
            lines += _wordsim_lines(metrics["wordsim"])
    elif "accuracy" in metrics:
        lines += _analogy_lines(metrics)
    elif "spearman" in metrics:
        lines += _wordsim_lines(metrics)
    else:
        raise ValueError("metrics must come from evaluate(), evaluate_analogies() or evaluate_wordsim()")
    return "\n".join(lines)
