"""t-SNE maps of the most frequent words: coordinates with scikit-learn, labelled scatter plots with matplotlib.

t-SNE (van der Maaten & Hinton 2008, "Visualizing Data using t-SNE", JMLR 9:2579-2605) places points
in 2-D so that each word's neighbourhood, a Gaussian over its distances to the others with a bandwidth
chosen to match a given *perplexity* (an effective number of neighbours, section 2 of the paper), is
kept as well as a heavy-tailed Student-t neighbourhood in the plane allows. It preserves who is near
whom, not global distances or cluster sizes: read the plot for groups of related words only.

Distances here are cosine distances, the similarity word2vec is queried with: the rows are scaled to
unit length and then compared by Euclidean distance, since for unit vectors ``|a - b|^2 = 2 (1 - cos)``
and t-SNE's per-point bandwidth search absorbs the factor 2, so the neighbourhoods are exactly those of
the cosine metric. Normalising first (rather than passing ``metric="cosine"``) also lets the PCA
initialisation see the same normalised vectors. Frequent words have longer vectors in word2vec; the
normalisation keeps that length from dominating the map.

Nothing here touches matplotlib's global state: figures are :class:`matplotlib.figure.Figure` objects
built without pyplot, so they render headless (PNG through Agg) and display in notebooks with whatever
backend the notebook chose.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from . import checks

__all__ = ["DPI", "TSNE_WORDS", "effective_perplexity", "figure_inches", "plot_tsne", "tsne_coordinates", "tsne_figure"]

#: Resolution of saved PNGs.
DPI = 150
MIN_WORDS = 4
#: words plotted by default: the most frequent 500
TSNE_WORDS = 500
LABEL_FONTSIZE = 7  # points: ~15 px per em at 150 dpi


def tsne_coordinates(
    embeddings,
    n_words: int = TSNE_WORDS,
    seed: int = 0,
    perplexity: float = 30.0,
    *,
    n_threads: int | None = 1,
) -> np.ndarray:
    """2-D t-SNE coordinates of words 1 .. ``n_words`` (UNK, row 0, is left out): ``[n, 2]`` float32.

    ``embeddings`` is ``[len(vocab), dim]``, row i the vector of word i. ``n = min(n_words,
    len(embeddings) - 1)``: a smaller vocabulary gives fewer points; at least 4 are needed. Row j of the
    result is word ``j + 1``. Rows are unit-normalised (cosine geometry, see the module docstring), then
    scikit-learn's Barnes-Hut ``TSNE(init="pca", random_state=seed)`` maps them.

    Perplexity rule: the perplexity used is ``min(perplexity, (n - 1) / 3)``. Barnes-Hut t-SNE
    computes each point's affinities over its ``3 * perplexity`` nearest neighbours (scikit-learn:
    ``min(n - 1, int(3 * perplexity + 1))``), and those should all exist
    among the other ``n - 1`` points; so 500 words keep 30, 61 words get 20, 10 words get 3.

    Deterministic for a seed on one machine: the neighbour search, the PCA start and the gradient are
    computed point by point, the same way on every run. scikit-learn's t-SNE draws random numbers only
    for its starting layout; with ``init="pca"`` that start is the data's first two principal
    components (the seed only enters PCA's randomized SVD), so other seeds give nearly the same map.
    That is the point of PCA initialisation (Kobak & Berens 2019, Nature Communications 10:5416): a
    start that keeps the global arrangement instead of a random one. ``n_threads`` caps the OpenMP/BLAS threads
    (``None``: scikit-learn's default, all cores); one thread is the default: a few hundred words take
    seconds anyway, and OpenMP threads that spin-wait slow a busy small machine down.
    """
    _check_n_words(n_words)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer from 0 to 2**32 - 1, not {seed!r}")
    if isinstance(perplexity, bool) or not isinstance(perplexity, (int, float, np.number)) or not perplexity > 0:
        raise ValueError(f"perplexity must be a positive number, not {perplexity!r}")
    matrix = _as_matrix(embeddings)
    n = min(int(n_words), len(matrix) - 1)
    if n < MIN_WORDS:
        raise ValueError(
            f"t-SNE needs at least {MIN_WORDS} words besides UNK, but the embedding matrix has "
            f"{len(matrix)} row{'s' if len(matrix) != 1 else ''} (UNK included)"
        )
    vectors = matrix[1 : n + 1].astype(np.float64)
    checks.finite_rows(vectors, first_row=1)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)

    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    tsne = TSNE(
        n_components=2,
        perplexity=effective_perplexity(n, perplexity),
        init="pca",
        random_state=int(seed),
    )
    if n_threads is None:
        coordinates = tsne.fit_transform(vectors)
    else:
        with threadpool_limits(limits=int(n_threads)):
            coordinates = tsne.fit_transform(vectors)
    return np.asarray(coordinates, dtype=np.float32)


def effective_perplexity(n: int, perplexity: float = 30.0) -> float:
    """The perplexity :func:`tsne_coordinates` uses for ``n`` points: ``min(perplexity, (n - 1) / 3)``."""
    return float(min(perplexity, (n - 1) / 3))


def figure_inches(n: int) -> float:
    """Side of the (square) figure for ``n`` labels: ``0.9 * sqrt(n)`` inches, 8 to 24, in half inches.

    500 words get 20 in (3000 px at 150 dpi), 300 get 15.5 in, 100 or fewer get 8 in: at 7 pt a
    label is about 0.3-0.6 in wide, so that leaves each word roughly 0.8 square inches.
    """
    side = min(max(0.9 * math.sqrt(max(n, 1)), 8.0), 24.0)
    return round(side * 2) / 2


def tsne_figure(
    embeddings,
    vocab,
    n_words: int = TSNE_WORDS,
    seed: int = 0,
    title: str | None = None,
    coordinates=None,
    *,
    perplexity: float = 30.0,
):
    """The t-SNE map as a :class:`matplotlib.figure.Figure`: each word a point with its label beside it.

    Computes :func:`tsne_coordinates` unless ``coordinates`` (its ``[n, 2]`` result, row j = word
    ``j + 1``) are given, in which case ``embeddings`` may be None and ``n_words`` is not used. In a
    notebook, the returned figure displays as a cell's value.
    """
    words = _vocab_words(vocab)
    if coordinates is None:
        matrix = checks.embedding_matrix(embeddings, vocab)
        coordinates = tsne_coordinates(matrix, n_words=n_words, seed=seed, perplexity=perplexity)
    else:
        if embeddings is not None:
            checks.embedding_matrix(embeddings, vocab)
        coordinates = np.asarray(coordinates, dtype=np.float64)
        if coordinates.ndim != 2 or coordinates.shape[1] != 2 or len(coordinates) < 1:
            raise ValueError(
                f"coordinates must be an [n, 2] array from tsne_coordinates, not shape {coordinates.shape}"
            )
        if len(coordinates) > len(words) - 1:
            raise ValueError(
                f"{len(coordinates)} coordinates but the vocabulary has only {len(words) - 1} words besides UNK"
            )
        if not np.isfinite(coordinates).all():
            raise ValueError("coordinates have NaN or infinite values")
    n = len(coordinates)
    labels = words[1 : n + 1]

    from matplotlib.figure import Figure

    side = figure_inches(n)
    fig = Figure(figsize=(side, side), dpi=DPI)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.97)
    ax = fig.add_subplot()
    x, y = coordinates[:, 0], coordinates[:, 1]
    ax.scatter(x, y, s=8, color="tab:blue", alpha=0.7, linewidths=0)
    for word, xi, yi in zip(labels, x, y):
        ax.annotate(
            word,
            (xi, yi),
            xytext=(2.5, 1.5),
            textcoords="offset points",
            fontsize=LABEL_FONTSIZE,
            ha="left",
            va="bottom",
            color="0.1",
        )
    # room for the labels, which extend right of and above their points
    span_x = float(np.ptp(x)) or 1.0
    span_y = float(np.ptp(y)) or 1.0
    ax.set_xlim(x.min() - 0.03 * span_x, x.max() + 0.10 * span_x)
    ax.set_ylim(y.min() - 0.03 * span_y, y.max() + 0.05 * span_y)
    ax.set_xticks([])
    ax.set_yticks([])  # t-SNE axes have no meaning
    if title is None:
        title = f"t-SNE of the {n:,} most frequent words (cosine geometry, UNK left out)"
    ax.set_title(title, fontsize=12)
    return fig


def plot_tsne(
    embeddings,
    vocab,
    path: str | os.PathLike,
    n_words: int = TSNE_WORDS,
    seed: int = 0,
    title: str | None = None,
    coordinates=None,
    *,
    perplexity: float = 30.0,
) -> Path:
    """Save :func:`tsne_figure` as a PNG at 150 dpi (``figure_inches(n) * 150`` pixels square).

    Parent folders are created; a path without a suffix gets ``.png``. Returns the path written.
    """
    path = Path(path).expanduser()
    if path.suffix == "":
        path = path.with_suffix(".png")
    elif path.suffix.lower() != ".png":
        raise ValueError(f"plot_tsne writes PNG files; give a path ending in .png, not {path.name!r}")
    fig = tsne_figure(
        embeddings, vocab, n_words=n_words, seed=seed, title=title, coordinates=coordinates, perplexity=perplexity
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI)
    return path


# --------------------------------------------------------------------------------------------
def _check_n_words(n_words) -> None:
    if isinstance(n_words, bool) or not isinstance(n_words, (int, np.integer)) or n_words < MIN_WORDS:
        raise ValueError(f"n_words must be an integer of at least {MIN_WORDS} (words besides UNK), not {n_words!r}")


def _as_matrix(embeddings) -> np.ndarray:
    if embeddings is None:
        raise ValueError("embeddings are needed unless coordinates are given")
    return checks.embedding_matrix(embeddings)


def _vocab_words(vocab) -> list:
    words = getattr(vocab, "words", None)
    if words is None:
        raise TypeError(f"vocab must be a cs20lib.Vocabulary, not {type(vocab).__name__}")
    return words
