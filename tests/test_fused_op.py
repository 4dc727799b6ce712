"""The fused word2vec op (cs20lib.fused_op, cs20lib/kernels/word2vec_op.cc): its update against a NumPy
reference and against TensorFlow's ops, both modes in training, bad inputs, and the fallback without a
compiler. Tests that need the op skip where it cannot be built; the fallback tests run everywhere."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO

from cs20lib import fused_op
from cs20lib.config import PRESETS, Word2VecConfig
from cs20lib.experiment import prepare_data
from cs20lib.tf2_model import SkipGram, negative_sampling_update
from cs20lib.training import Trainer


@pytest.fixture(scope="module")
def library():
    try:
        return fused_op.load_library()
    except fused_op.KernelUnavailableError as error:
        pytest.skip(f"the fused op cannot be built here: {error}")


def sequential_sgd(embed, output, output_ids, input_ids, negatives, alpha):
    """word2vec's update pair by pair, in row then column order, as the C tool's inner loop (Mikolov et al.
    2013b): the output vectors step at once, the input vector after all its targets. Returns the mean loss."""
    embed, output = embed.astype(np.float64), output.astype(np.float64)
    losses = []
    for b, center in enumerate(output_ids):
        for word in input_ids[b]:
            if word < 0:
                continue
            step = np.zeros(embed.shape[1])
            loss = 0.0
            for t, target in enumerate([center, *negatives[b]]):
                x = embed[word] @ output[target]
                label = 1.0 if t == 0 else 0.0
                loss += np.logaddexp(0.0, -x if t == 0 else x)  # softplus
                g = alpha * (label - 1.0 / (1.0 + np.exp(-x)))
                step += g * output[target]
                output[target] += g * embed[word]
            embed[word] += step
            losses.append(loss)
    return embed, output, np.mean(losses)


def small_model(rows=40, dims=8, seed=2):
    model = SkipGram(rows, dims, seed=seed)
    model.output_weight.assign(tf.random.stateless_normal([rows, dims], seed=[3, seed]) * 0.5)
    return model


def test_deterministic_op_is_sequential_per_pair_sgd(library):
    """Duplicates on purpose (centers, noise words, a word twice in a window, a noise word = the center)."""
    rng = np.random.default_rng(0)
    output_ids = rng.integers(1, 12, 6).astype(np.int32)
    input_ids = rng.integers(1, 12, (6, 4)).astype(np.int32)
    input_ids[rng.random((6, 4)) < 0.3] = -1
    negatives = rng.integers(1, 12, (6, 3)).astype(np.int32)
    negatives[0, 0] = output_ids[0]
    model = small_model()
    embed, output = model.embed_matrix.numpy(), model.output_weight.numpy()
    loss = fused_op.fused_update(model, output_ids, input_ids, negatives, 0.3 * 6, 6)
    want_embed, want_output, want_loss = sequential_sgd(embed, output, output_ids, input_ids, negatives, 0.3)
    assert float(loss) == pytest.approx(want_loss, rel=1e-5)
    np.testing.assert_allclose(model.embed_matrix.numpy(), want_embed, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.output_weight.numpy(), want_output, rtol=1e-5, atol=1e-6)
    assert not np.allclose(model.embed_matrix.numpy(), embed)  # it moved


def test_op_equals_tensorflow_update_when_no_vector_repeats(library):
    """With one input word per row and every id distinct, each pair touches its own vectors, so applying the
    updates pair by pair (the op) and summing them from the step's start (TensorFlow's ops) agree."""
    ids = np.random.default_rng(1).permutation(np.arange(1, 40)).astype(np.int32)
    output_ids, negatives = ids[:5], ids[5:20].reshape(5, 3)
    input_ids = ids[20:25].reshape(5, 1)
    fused, reference = small_model(), small_model()
    fused_loss = tf.function(lambda: fused_op.fused_update(fused, output_ids, input_ids, negatives, 2.0, 5))()
    tf_loss = negative_sampling_update(reference, output_ids, input_ids, negatives, 2.0, 5)
    assert float(fused_loss) == pytest.approx(float(tf_loss), rel=1e-5)
    np.testing.assert_allclose(fused.embed_matrix.numpy(), reference.embed_matrix.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused.output_weight.numpy(), reference.output_weight.numpy(), rtol=1e-5, atol=1e-6)


def test_a_dense_read_before_the_update_keeps_its_values(library):
    """The op writes in place; a tensor read from the variable before must not change under the reader."""
    model = small_model()
    before = model.embed_matrix.read_value()
    copy = before.numpy().copy()
    fused_op.fused_update(model, np.int32([1]), np.int32([[2]]), np.int32([[3]]), 1.0, 1)
    np.testing.assert_array_equal(before.numpy(), copy)
    assert not np.array_equal(model.embed_matrix.numpy(), copy)


@pytest.mark.parametrize(
    "output_ids, input_ids, negatives, message",
    [
        ([1, 40], [[2], [3]], [[4], [5]], r"output_ids\[1\] = 40 is not a row of output_weight \(40 rows\)"),
        ([1, 2], [[2], [-2]], [[4], [5]], r"input_ids\[1, 0\] = -2 is neither -1 .* nor a row of embed_matrix"),
        ([1, 2], [[2], [3]], [[4], [99]], r"negatives\[1, 0\] = 99 is not a row of output_weight"),
        ([1, 2], [[2]], [[4], [5]], r"must have the same rows; got 2, 1, 2"),
    ],
    ids=["output", "input", "negative", "rows"],
)
def test_bad_inputs_are_errors_and_change_nothing(library, output_ids, input_ids, negatives, message):
    model = small_model()
    embed, output = model.embed_matrix.numpy(), model.output_weight.numpy()
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        fused_op.fused_update(model, np.int32(output_ids), np.int32(input_ids), np.int32(negatives), 1.0, 2)
    np.testing.assert_array_equal(model.embed_matrix.numpy(), embed)
    np.testing.assert_array_equal(model.output_weight.numpy(), output)


SMALL = dict(
    vocab_size=300,
    embed_size=16,
    batch_size=32,
    negative=5,
    skip_window=2,
    loss="negative",
    batching="windows",
    sample=1e-3,
    lr_decay="linear",
    learning_rate=0.5,
    keep_unk=False,
    init="word2vec",
    corpus="toy",
    num_train_steps=600,
    skip_step=200,
)


def small_trainer(run_dir, **overrides):
    data, config = prepare_data(Word2VecConfig(**{**SMALL, **overrides}), "toy")
    return Trainer(config, data.vocab, data.ids, run_dir, steps_per_call=64, verbose=False, progress=False)


def test_deterministic_kernel_resumes_exactly(library, tmp_path):
    straight = small_trainer(tmp_path / "straight", kernel="fused")
    straight.train()
    stopped = small_trainer(tmp_path / "stopped", kernel="fused")
    stopped.train(until_step=200)
    del stopped
    resumed = small_trainer(tmp_path / "stopped", kernel="fused")
    assert int(resumed.step.numpy()) == 200
    resumed.train()
    np.testing.assert_array_equal(resumed.embeddings(), straight.embeddings())
    np.testing.assert_array_equal(resumed.model.output_weight.numpy(), straight.model.output_weight.numpy())
    # the TensorFlow step trains the same loss: close, not equal (the updates are applied in another order)
    other = small_trainer(tmp_path / "tf", kernel="tf")
    other.train()
    assert not np.array_equal(other.embeddings(), straight.embeddings())


def test_hogwild_trains_the_toy_corpus_as_well_as_tensorflows_ops(library, tmp_path):
    """word2vec's recipe by windows, 3,000 steps of 512 centers: Hogwild on every intra-op thread against the
    TensorFlow step. Measured (seed 0, 2 threads): 0.94-0.95 (Hogwild and deterministic) and 0.97 (TF)."""
    from cs20lib.evaluation import evaluate_analogies
    from cs20lib.toy_corpus import write_toy_analogies

    questions = write_toy_analogies(tmp_path / "toy.txt")
    accuracy = {}
    for kernel, hogwild in (("fused", True), ("tf", False)):
        run = small_trainer(
            tmp_path / kernel,
            vocab_size=None,
            embed_size=32,
            batch_size=512,
            skip_window=5,
            learning_rate=0.025 * 512,
            num_train_steps=3000,
            skip_step=3000,
            kernel=kernel,
            hogwild=hogwild,
        )
        run.train()
        result = evaluate_analogies(run.embeddings(), run.vocab, questions, restrict_vocab=None)
        assert result["considered"] == 312
        accuracy[kernel] = result["accuracy"]
    assert accuracy["fused"] >= 0.85 and accuracy["tf"] >= 0.85, accuracy
    assert abs(accuracy["fused"] - accuracy["tf"]) <= 0.08, accuracy


# ----------------------------------------------------------------------------------------------
# Without a compiler (these run everywhere)
# ----------------------------------------------------------------------------------------------
def test_no_compiler_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-g++"))
    with pytest.raises(fused_op.KernelUnavailableError, match=r"no C\+\+ compiler: .*no-such-g\+\+.* is not on PATH"):
        fused_op.build()
    assert re.search(r"no C\+\+ compiler: .*no-such-g\+\+", fused_op.cannot_build())
    monkeypatch.setenv("CXX", sys.executable)  # any program on PATH: a build can be tried
    assert fused_op.cannot_build() is None


def test_a_compile_error_is_a_clear_error_with_its_log(tmp_path, monkeypatch):
    broken = tmp_path / "broken-g++"
    broken.write_text("#!/bin/sh\necho 'broken-g++: cannot compile today' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("CXX", str(broken))
    monkeypatch.setenv("CS20_KERNEL_CACHE", str(tmp_path / "kernels"))
    with pytest.raises(fused_op.KernelUnavailableError, match="broken-g.. failed to compile word2vec_op.cc") as caught:
        fused_op.build()
    log = str(caught.value).rsplit(" ", 1)[1]
    assert "cannot compile today" in open(log).read()
    assert not list((tmp_path / "kernels").glob("*.so"))  # neither a library nor a half-written temporary file


def test_training_falls_back_to_tensorflows_ops_with_one_line(tmp_path):
    """No compiler on PATH and no built kernel: the word2vec preset (kernel "auto") trains anyway, after one
    line on standard error saying why; asking for the fused kernel by name is an error."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CXX": str(tmp_path / "no-such-g++"),
        "CS20_KERNEL_CACHE": str(tmp_path / "kernels"),
        "CS20_CACHE_DIR": str(tmp_path / "cache"),
    }
    flags = ["--corpus", "toy", "--steps", "40", "--skip-step", "20", "--batch-size", "64", "--tsne-words", "0"]
    command = [sys.executable, "-m", "cs20lib", "train", *flags, "--quiet", "--runs-root", str(tmp_path / "runs")]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "fused word2vec kernel" in line]
    assert len(lines) == 1 and "not on PATH" in lines[0] and "TensorFlow's ops instead" in lines[0], done.stderr
    assert "Average loss at step 39" in done.stdout

    refused = subprocess.run(
        [*command, "--kernel", "fused"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert refused.returncode == 2 and "error: no C++ compiler" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr


def test_kernel_settings_choose_how_not_what():
    preset = PRESETS["word2vec"].config()
    # the preset runs Hogwild on every core (BENCHMARKS.md); the lecture's settings stay on TensorFlow's ops
    assert (preset.kernel, preset.hogwild) == ("auto", True) and Word2VecConfig().kernel == "tf"
    assert preset.weights_key() == preset.replace(kernel="tf", hogwild=False).weights_key()  # same run directory
    with pytest.raises(ValueError, match="kernel must be one of 'tf', 'fused', 'loop', 'auto', not 'gpu'"):
        Word2VecConfig(kernel="gpu")
    with pytest.raises(ValueError, match="hogwild must be True or False"):
        Word2VecConfig(hogwild="yes")


def test_kernel_flags():
    from cs20lib.__main__ import build_parser
    from cs20lib.cli_flags import config_from

    def config(*flags):
        return config_from(build_parser().parse_args(["train", *flags]))

    assert (config().kernel, config().hogwild) == ("auto", True)
    assert (config("--kernel", "tf", "--hogwild").kernel, config("--hogwild").hogwild) == ("tf", True)
    assert config("--deterministic").hogwild is False and config("--preset", "lecture").hogwild is False
    assert config("--hogwild", "--deterministic").hogwild is False  # the last one given wins
    assert config("--preset", "lecture", "--kernel", "fused", "--hogwild").hogwild is True


# ----------------------------------------------------------------------------------------------
# Row updates (HogBatch) and word2vec's loop as one op (issue 24)
# ----------------------------------------------------------------------------------------------
def rows_together_sgd(embed, output, output_ids, input_ids, negatives, alpha):
    """HogBatch (Ji et al. 2016): each row's pairs from the row's start values, X = V U^T, G = alpha (labels -
    sigmoid X), V += G U, U += G^T V (repeated vectors get every step); rows in order. Float64."""
    embed, output = embed.astype(np.float64), output.astype(np.float64)
    losses = []
    for b, center in enumerate(output_ids):
        inputs = [word for word in input_ids[b] if word >= 0]
        if not inputs:
            continue
        targets = [center, *negatives[b]]
        v, u = embed[inputs], output[targets]
        x = v @ u.T
        labels = np.zeros_like(x)
        labels[:, 0] = 1.0
        losses += list(np.logaddexp(0.0, np.where(labels == 1, -x, x)).sum(axis=1))
        g = alpha * (labels - 1.0 / (1.0 + np.exp(-x)))
        d_v, d_u = g @ u, g.T @ v
        np.add.at(embed, inputs, d_v)
        np.add.at(output, targets, d_u)
    return embed, output, np.mean(losses)


def test_row_updates_are_sgd_on_each_rows_summed_loss(library):
    """Duplicates on purpose: a word twice in a window, a noise word twice, a noise word = the center."""
    rng = np.random.default_rng(4)
    output_ids = rng.integers(1, 12, 6).astype(np.int32)
    input_ids = rng.integers(1, 12, (6, 4)).astype(np.int32)
    input_ids[rng.random((6, 4)) < 0.3] = -1
    input_ids[1, :2] = 5
    negatives = rng.integers(1, 12, (6, 3)).astype(np.int32)
    negatives[0, 0] = output_ids[0]
    negatives[2, 1] = negatives[2, 2]
    model = small_model()
    embed, output = model.embed_matrix.numpy(), model.output_weight.numpy()
    loss = fused_op.fused_update(model, output_ids, input_ids, negatives, 0.3 * 6, 6, rows=True)
    want_embed, want_output, want_loss = rows_together_sgd(embed, output, output_ids, input_ids, negatives, 0.3)
    assert float(loss) == pytest.approx(want_loss, rel=1e-5)
    np.testing.assert_allclose(model.embed_matrix.numpy(), want_embed, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.output_weight.numpy(), want_output, rtol=1e-5, atol=1e-6)
    # and not the pairs' arithmetic: a row's later pairs do not see its earlier pairs' steps
    pairwise = sequential_sgd(embed, output, output_ids, input_ids, negatives, 0.3)[0]
    assert not np.allclose(want_embed, pairwise, rtol=1e-6, atol=1e-7)


MASK = (1 << 64) - 1


def mix(z: int) -> int:
    """SplitMix64's finaliser, as word2vec_math.h's Mix."""
    z = (z + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def draw_noise(seed: int, step: int, row: int, k: int, noise: int, keep, alias) -> int:
    """word2vec_math.h's DrawNoise, in Python: the reference for the op's noise words."""
    key = mix(mix(seed) ^ step)
    h = mix((key + ((row * noise + k) * 0xD1B54A32D192ED03 & MASK)) & MASK)
    column = ((h >> 32) * len(keep)) >> 32
    u = np.float32(h & 0xFFFFFF) * np.float32(1.0 / 16777216.0)
    return column if u < keep[column] else int(alias[column])


def loop_rows(corpus, reach, positions, seed, step, noise, keep, alias):
    """The rows word2vec's loop makes for centers at ``positions``: output ids, input ids (-1: none), noise."""
    width = 2 * int(max(reach[p] for p in positions))
    outputs, inputs, negatives = [], np.full((len(positions), max(width, 1)), -1, np.int32), []
    for b, p in enumerate(positions):
        r = int(reach[p])
        window = [corpus[o] for o in range(max(p - r, 0), min(p + r, len(corpus) - 1) + 1) if o != p]
        inputs[b, : len(window)] = window
        outputs.append(corpus[p])
        negatives.append([draw_noise(seed, step, b, k, noise, keep, alias) for k in range(noise)])
    return np.int32(outputs), inputs, np.int32(negatives)


@pytest.mark.parametrize("rows", [False, True], ids=["pairs", "rows"])
def test_the_loop_op_makes_the_rows_of_the_stream_and_draws_noise_as_specified(library, rows):
    """Cs20Word2vecCenters on center positions equals Cs20Word2vecUpdate on the rows made from them outside:
    the windows (reach each way, cut at the corpus's ends) and the noise words (the generator written out
    in Python above)."""
    from cs20lib.noise import alias_table

    rng = np.random.default_rng(7)
    corpus = rng.integers(1, 40, 300).astype(np.int32)
    reach = rng.integers(1, 4, 300).astype(np.int8)
    positions = np.int32([0, 1, 150, 298, 299, 77, 77, 13])
    keep, alias = alias_table(np.bincount(corpus, minlength=40) + 1)
    seed, step, noise = 11, 123, 4
    config = Word2VecConfig(loss="negative", batching="windows", negative=noise, seed=seed, kernel="loop")
    config = config.replace(fused_update="rows" if rows else "pairs")
    via_loop, via_rows = small_model(), small_model()
    update = fused_op.centers_update(config, via_loop, tf.constant(keep), tf.constant(alias))
    loss, pairs = update(corpus, reach, positions, tf.constant(step, tf.int64), 0.2 * 8, 8)
    outputs, inputs, negatives = loop_rows(corpus, reach, positions, seed, step, noise, keep, alias)
    want = fused_op.fused_update(via_rows, outputs, inputs, negatives, 0.2 * 8, 8, rows=rows)
    assert int(pairs) == int((inputs >= 0).sum())
    assert float(loss) == pytest.approx(float(want), rel=1e-6)
    np.testing.assert_allclose(via_loop.embed_matrix.numpy(), via_rows.embed_matrix.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(via_loop.output_weight.numpy(), via_rows.output_weight.numpy(), rtol=1e-6, atol=1e-7)


def test_the_loops_noise_words_follow_the_unigram_to_the_three_quarters():
    from cs20lib.noise import alias_table

    counts = np.array([0, 500, 120, 60, 30, 9, 1], dtype=np.int64)
    keep, alias = alias_table(counts)
    draws = np.bincount(
        [draw_noise(3, 9, row, k, 5, keep, alias) for row in range(8_000) for k in range(5)], minlength=7
    )
    want = counts**0.75 / (counts**0.75).sum()
    assert draws[0] == 0
    np.testing.assert_allclose(draws / draws.sum(), want, atol=0.01)


@pytest.mark.parametrize(
    "positions, corpus_word, message",
    [
        ([0, 300], 1, r"positions\[1\] = 300 is not a position of the corpus \(300 words\)"),
        ([5, 6], 99, r"corpus\[\d+\] = 99 is not a row of the tables \(40 rows\)"),
    ],
    ids=["position", "word"],
)
def test_the_loop_op_refuses_bad_inputs_and_changes_nothing(library, positions, corpus_word, message):
    from cs20lib.noise import alias_table

    corpus = np.full(300, 2, np.int32)
    corpus[6] = corpus_word
    reach = np.full(300, 2, np.int8)
    keep, alias = alias_table(np.arange(40) + 1)
    model = small_model()
    embed, output = model.embed_matrix.numpy(), model.output_weight.numpy()
    config = Word2VecConfig(loss="negative", batching="windows", negative=3, kernel="loop")
    update = fused_op.centers_update(config, model, tf.constant(keep), tf.constant(alias))
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        update(corpus, reach, np.int32(positions), tf.constant(0, tf.int64), 1.0, 2)
    np.testing.assert_array_equal(model.embed_matrix.numpy(), embed)
    np.testing.assert_array_equal(model.output_weight.numpy(), output)


@pytest.mark.parametrize("update", ["pairs", "rows"])
def test_the_loop_resumes_exactly_in_its_deterministic_mode(library, tmp_path, update):
    settings = dict(kernel="loop", fused_update=update)
    straight = small_trainer(tmp_path / "straight", **settings)
    straight.train()
    stopped = small_trainer(tmp_path / "stopped", **settings)
    stopped.train(until_step=200)
    del stopped
    resumed = small_trainer(tmp_path / "stopped", **settings)
    assert resumed.runner.loop and int(resumed.step.numpy()) == 200
    result = resumed.train()
    np.testing.assert_array_equal(resumed.embeddings(), straight.embeddings())
    np.testing.assert_array_equal(resumed.model.output_weight.numpy(), straight.model.output_weight.numpy())
    assert result.pairs > 0
