"""Small explanatory diagrams for the notebooks, drawn with matplotlib from the course's own data.

* :func:`skipgram_window`: a sentence, one center word, its window, and the (center, context) pairs
  skip-gram makes from it (Mikolov et al. 2013a, fig. 1, for one position of the window);
* :func:`true_and_noise_words`: what one training example of NCE or negative sampling asks of the
  model: score the true context word high and ``k`` noise words drawn from ``Q`` low
  (Gutmann & Hyvärinen 2010; Mikolov et al. 2013b, eq. 4).

Both return the :class:`matplotlib.figure.Figure`; a notebook shows it with ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["skipgram_window", "true_and_noise_words"]

_CENTER, _CONTEXT, _OTHER, _NOISE = "#f4a259", "#8cb8e0", "#eeeeee", "#d9d9d9"


def _box(ax, x: float, y: float, text: str, color: str, width: float = 0.9, bold: bool = False) -> None:
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - 0.22), width, 0.44, boxstyle="round,pad=0.02", facecolor=color, edgecolor="#555555"
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=9, fontweight="bold" if bold else "normal")


def skipgram_window(words: Sequence[str], center: int, window: int):
    """``words`` in a row, ``words[center]`` as the center, the words within ``window`` of it as its
    context, an arrow from the center to each, and the pairs that skip-gram trains on below them."""
    import matplotlib.pyplot as plt

    if not 0 <= center < len(words):
        raise ValueError(f"center {center} is outside the sentence of {len(words)} words")
    if window < 1:
        raise ValueError(f"window must be at least 1, not {window}")
    context = [i for i in range(center - window, center + window + 1) if i != center and 0 <= i < len(words)]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.05 * len(words)), 2.4 + 0.28 * len(context)))
    for i, word in enumerate(words):
        color = _CENTER if i == center else _CONTEXT if i in context else _OTHER
        _box(ax, i, 0, word, color, bold=i == center)
    for i in context:
        rad = -0.35 if i > center else 0.35
        ax.annotate(
            "",
            xy=(i, 0.24),
            xytext=(center, 0.24),
            arrowprops=dict(arrowstyle="->", color="#444444", connectionstyle=f"arc3,rad={rad}"),
        )
    ax.text(
        center,
        0.62 + 0.12 * window,
        f"window {window}: {window} word{'s' if window > 1 else ''} each side",
        ha="center",
        fontsize=9,
    )
    for row, i in enumerate(context):
        ax.text(center, -0.7 - 0.28 * row, f"({words[center]}, {words[i]})", ha="center", va="center", fontsize=9)
    ax.text(-0.5, -0.7, "pairs:", ha="left", va="center", fontsize=9, style="italic")
    ax.set_xlim(-0.6, len(words) - 0.4)
    ax.set_ylim(-0.95 - 0.28 * len(context), 1.0 + 0.12 * window)
    ax.axis("off")
    ax.set_title("skip-gram: each word in the window is a context of the center", fontsize=10)
    fig.tight_layout()
    return fig


def true_and_noise_words(center: str, context: str, noise: Sequence[str], scores: Sequence[float] | None = None):
    """One training example: the center word, its true context word (label 1) and ``noise`` words drawn
    from the noise distribution (label 0). ``scores``, if given, are the model's probabilities that each
    word (the true one first) is a real context, shown beside it."""
    import matplotlib.pyplot as plt

    if not noise:
        raise ValueError("give at least one noise word")
    candidates = [context, *noise]
    if scores is not None and len(scores) != len(candidates):
        raise ValueError(f"give one score per word: {len(candidates)} words, {len(scores)} scores")
    fig, ax = plt.subplots(figsize=(6.4, 0.8 + 0.5 * len(candidates)))
    top = len(candidates) - 1
    _box(ax, 0, top / 2, center, _CENTER, width=1.4, bold=True)
    for row, word in enumerate(candidates):
        y = top - row
        true = row == 0
        _box(ax, 3, y, word, _CONTEXT if true else _NOISE, width=1.4)
        ax.annotate("", xy=(2.25, y), xytext=(0.75, top / 2), arrowprops=dict(arrowstyle="->", color="#444444"))
        label = "true context: label 1, push σ(score) up" if true else "noise word ~ Q: label 0, push σ(score) down"
        if scores is not None:
            label += f"   (now {scores[row]:.2f})"
        ax.text(3.85, y, label, va="center", fontsize=9, color="#222222" if true else "#555555")
    ax.set_xlim(-0.8, 9.5)
    ax.set_ylim(-0.6, top + 0.6)
    ax.axis("off")
    ax.set_title(
        f"one example: the true context word and k = {len(noise)} noise words;\n"
        f"k + 1 = {len(noise) + 1} logistic losses instead of a softmax over the vocabulary",
        fontsize=10,
    )
    fig.tight_layout()
    return fig
