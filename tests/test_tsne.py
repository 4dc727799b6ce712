"""t-SNE of the most frequent words: deterministic coordinates, planted clusters kept apart, legible PNGs."""

import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from cs20lib.tsne import DPI, effective_perplexity, figure_inches, plot_tsne, tsne_coordinates, tsne_figure
from cs20lib.vocab import Vocabulary

N_CLUSTERS, PER_CLUSTER, DIM = 4, 30, 32
N = N_CLUSTERS * PER_CLUSTER  # words besides UNK


def make_vocab(n=N):
    return Vocabulary(["UNK"] + [f"w{i:03d}" for i in range(1, n + 1)], [10**6] + list(range(n, 0, -1)))


def planted(seed=0):
    """UNK + 4 clusters of 30 words by direction; lengths vary 10x within a cluster (cosine ignores them).

    Word i (i >= 1) is in cluster (i - 1) % 4, so clusters interleave in id order.
    """
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((N_CLUSTERS, DIM))
    labels = np.arange(N) % N_CLUSTERS
    directions = centers[labels] + 0.25 * rng.standard_normal((N, DIM))
    lengths = rng.uniform(0.5, 5.0, size=(N, 1))
    unk = rng.standard_normal((1, DIM))
    return np.vstack([unk, directions * lengths]).astype(np.float32), labels


@pytest.fixture(scope="module")
def clusters():
    matrix, labels = planted()
    return matrix, labels, tsne_coordinates(matrix, n_words=N, seed=0)


def test_shape_and_dtype(clusters):
    matrix, _, coords = clusters
    assert coords.shape == (N, 2) and coords.dtype == np.float32
    assert np.isfinite(coords).all()


def test_same_seed_same_coordinates(clusters):
    matrix, _, coords = clusters
    np.testing.assert_array_equal(tsne_coordinates(matrix, n_words=N, seed=0), coords)
    # (another seed gives nearly the same map: with init="pca" the seed only enters PCA's randomized SVD)


def test_unk_is_left_out(clusters):
    matrix, _, coords = clusters
    other_unk = matrix.copy()
    other_unk[0] = 100.0  # row 0 plays no part: same coordinates whatever UNK's vector is
    np.testing.assert_array_equal(tsne_coordinates(other_unk, n_words=N, seed=0), coords)
    fig = tsne_figure(None, make_vocab(), coordinates=coords[:10])
    assert [t.get_text() for t in fig.axes[0].texts] == make_vocab().words[1:11]  # row j = word j + 1


def test_planted_clusters_stay_apart_in_2d(clusters):
    _, labels, coords = clusters
    d = np.linalg.norm(coords[:, None, :] - coords[None, :, :], axis=-1)
    np.fill_diagonal(d, np.inf)
    same = labels[d.argmin(axis=1)] == labels
    assert same.mean() >= 0.95
    # and each cluster's centroid is farther from the others than its points are from it
    centroids = np.stack([coords[labels == k].mean(axis=0) for k in range(N_CLUSTERS)])
    spread = max(np.linalg.norm(coords[labels == k] - centroids[k], axis=1).mean() for k in range(N_CLUSTERS))
    gaps = np.linalg.norm(centroids[:, None] - centroids[None], axis=-1)[np.triu_indices(N_CLUSTERS, 1)]
    assert gaps.min() > 2 * spread


def test_n_words_is_capped_by_the_vocabulary_and_perplexity_lowered():
    matrix, _ = planted()
    small = matrix[:7]  # UNK + 6 words
    assert effective_perplexity(6) == pytest.approx(5 / 3)
    assert effective_perplexity(10) == 3.0 and effective_perplexity(61) == 20.0 and effective_perplexity(500) == 30.0
    coords = tsne_coordinates(small, n_words=500, seed=0)  # perplexity 30 would fail with 6 points
    assert coords.shape == (6, 2)
    assert tsne_coordinates(matrix, n_words=5, seed=0).shape == (5, 2)


@pytest.mark.parametrize("n_words", [0, 3, -1, 2.5, True, "10", None])
def test_bad_n_words(n_words):
    matrix, _ = planted()
    with pytest.raises(ValueError, match="n_words must be an integer of at least 4"):
        tsne_coordinates(matrix, n_words=n_words)
    with pytest.raises(ValueError, match="n_words"):
        plot_tsne(matrix, make_vocab(), "unused.png", n_words=n_words)


def test_other_bad_input(tmp_path):
    matrix, _ = planted()
    with pytest.raises(ValueError, match="at least 4 words besides UNK"):
        tsne_coordinates(matrix[:4])
    with pytest.raises(ValueError, match="perplexity must be a positive number"):
        tsne_coordinates(matrix, perplexity=0)
    with pytest.raises(ValueError, match="2-D"):
        tsne_coordinates(matrix[:, 0])
    bad = matrix.copy()
    bad[5, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        tsne_coordinates(bad)
    with pytest.raises(ValueError, match="121 rows but the vocabulary has 51"):
        tsne_figure(matrix, make_vocab(50))
    with pytest.raises(ValueError, match=r"\[n, 2\]"):
        tsne_figure(None, make_vocab(), coordinates=np.zeros((10, 3)))
    with pytest.raises(ValueError, match="only 120 words"):
        tsne_figure(None, make_vocab(), coordinates=np.zeros((121, 2)))
    with pytest.raises(ValueError, match="ending in .png"):
        plot_tsne(None, make_vocab(), tmp_path / "tsne.jpg", coordinates=np.zeros((10, 2)))
    assert not list(tmp_path.iterdir())


def png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


def test_png_written_with_the_expected_pixel_size(tmp_path, clusters):
    _, _, coords = clusters
    out = plot_tsne(None, make_vocab(), tmp_path / "a" / "b" / "tsne", coordinates=coords, title="planted")
    assert out == tmp_path / "a" / "b" / "tsne.png" and out.is_file()
    side = round(figure_inches(N) * DPI)
    assert figure_inches(N) == 10.0 and side == 1500
    assert png_size(out) == (side, side)

    import matplotlib.image

    image = matplotlib.image.imread(out)
    assert image.shape[:2] == (side, side)
    assert image[..., :3].min() < 0.5  # something dark was drawn: points and labels
    assert figure_inches(300) * DPI == 2325 and figure_inches(500) * DPI == 3000
    assert figure_inches(20) == 8.0 and figure_inches(5000) == 24.0


def test_figure_labels_every_word_and_leaves_the_global_backend_alone(tmp_path):
    """In a fresh interpreter with a backend chosen by the caller: no pyplot, the backend unchanged."""
    script = textwrap.dedent(
        f"""
        import sys, matplotlib, numpy as np
        matplotlib.use("svg")
        from cs20lib.tsne import plot_tsne, tsne_figure
        from cs20lib.vocab import Vocabulary
        vocab = Vocabulary(["UNK"] + [f"w{{i}}" for i in range(1, 41)], [41] + list(range(40, 0, -1)))
        coords = np.random.default_rng(0).standard_normal((40, 2))
        fig = tsne_figure(None, vocab, coordinates=coords, title="t")
        assert [t.get_text() for t in fig.axes[0].texts] == vocab.words[1:]
        plot_tsne(None, vocab, {str(tmp_path / "x.png")!r}, coordinates=coords)
        assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
        assert "matplotlib.pyplot" not in sys.modules
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert png_size(tmp_path / "x.png") == (1200, 1200)
