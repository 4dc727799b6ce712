"""cs20lib.diagrams: the pictures show the pairs and words they are given, and refuse what they cannot draw."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from cs20lib import diagrams  # noqa: E402

WORDS = "anarchism originated as a term of abuse first".split()


def texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_the_window_diagram_lists_exactly_the_skipgram_pairs_of_its_center():
    fig = diagrams.skipgram_window(WORDS, center=3, window=2)
    pairs = [t for t in texts(fig) if t.startswith("(")]
    assert pairs == ["(a, originated)", "(a, as)", "(a, term)", "(a, of)"]
    plt.close(fig)
    # at the edge of the sentence the window is cut short
    fig = diagrams.skipgram_window(WORDS, center=0, window=2)
    assert [t for t in texts(fig) if t.startswith("(")] == ["(anarchism, originated)", "(anarchism, as)"]
    plt.close(fig)


def test_the_noise_diagram_labels_one_true_word_and_k_noise_words():
    fig = diagrams.true_and_noise_words("france", "paris", ["the", "zero", "galaxy"], scores=[0.7, 0.2, 0.1, 0.05])
    labels = texts(fig)
    assert sum("label 1" in t for t in labels) == 1 and sum("label 0" in t for t in labels) == 3
    assert any("(now 0.70)" in t for t in labels)
    assert "k = 3" in fig.axes[0].get_title()
    plt.close(fig)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: diagrams.skipgram_window(WORDS, 8, 2), "outside the sentence"),
        (lambda: diagrams.skipgram_window(WORDS, 2, 0), "at least 1"),
        (lambda: diagrams.true_and_noise_words("a", "b", []), "at least one noise word"),
        (lambda: diagrams.true_and_noise_words("a", "b", ["c"], scores=[0.5]), "one score per word"),
    ],
)
def test_what_cannot_be_drawn_is_refused_with_what_to_give(call, message):
    with pytest.raises(ValueError, match=message):
        call()
