"""The lecture's graph-mode SkipGramModel: builds twice, scopes, exact resume, portable run directories,
summaries, refusal of mismatches."""

import shutil

import numpy as np
import pytest
import tensorflow as tf

from cs20lib.config import Word2VecConfig
from cs20lib.experiment import prepare_data
from cs20lib.runs import CheckpointMismatchError
from cs20lib.skipgram import SkipGramStream
from cs20lib.tf1_model import SkipGramModel


@pytest.fixture(scope="module")
def toy():
    data, _ = prepare_data(Word2VecConfig(vocab_size=200), "toy")
    return data


def build(toy, run_dir, embed_size=16, **kwargs):
    stream = SkipGramStream(toy.ids, 32, 1, seed=0)
    config = Word2VecConfig(
        vocab_size=200, embed_size=embed_size, batch_size=32, num_sampled=8, skip_step=100, corpus="toy"
    )
    return SkipGramModel(
        stream,
        len(toy.vocab),
        embed_size,
        32,
        8,
        1.0,
        skip_step=100,
        run_dir=run_dir,
        config=config,
        verbose=False,
        **kwargs,
    ).build_graph()


def test_builds_twice_in_one_process(toy, tmp_path):
    first = build(toy, tmp_path / "a")
    second = build(toy, tmp_path / "b")  # the lecture's global graph would say: Variable global_step already exists
    assert first.graph is not second.graph
    names = sorted(v.op.name for v in second.graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES))
    assert names == ["embed_matrix", "global_step", "nce_bias", "nce_weight"]
    trainable = sorted(v.op.name for v in second.graph.get_collection(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES))
    assert trainable == ["embed_matrix", "nce_bias", "nce_weight"]  # global_step is not trainable


def test_name_scopes_and_fixed_defects(toy, tmp_path):
    model = build(toy, tmp_path / "a")
    scopes = {op.name.split("/")[0] for op in model.graph.get_operations() if "/" in op.name}
    assert {"data", "embed", "loss", "summaries"} <= scopes
    assert model.center_words.name.startswith("data/") and model.loss.name == "loss/loss:0"
    variables = {v.op.name: v for v in model.graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)}
    assert variables["nce_bias"].shape == (len(toy.vocab),)  # not the global VOCAB_SIZE
    summary_ops = [op.name for op in model.graph.get_operations() if op.type in ("ScalarSummary", "HistogramSummary")]
    assert sorted(summary_ops) == ["summaries/histogram_loss", "summaries/loss"]
    with tf.compat.v1.Session(graph=model.graph) as sess:
        sess.run(model.init)
        values = sess.run(model.embed_matrix)
    assert values.min() < -0.9 and values.max() > 0.9  # [-1, 1), not [0, 1)


def test_train_resumes_and_continues_global_step(toy, tmp_path):
    history = build(toy, tmp_path / "run").train(250)
    assert [step for step, _ in history] == [99, 199, 249]
    checkpoints = tf.compat.v1.train.get_checkpoint_state(str(tmp_path / "run" / "checkpoints"))
    assert checkpoints.model_checkpoint_path.endswith("skip-gram-250")
    again = build(toy, tmp_path / "run")  # a new graph and session: restores from disk
    assert again.current_step() == 250
    history = again.train(150)
    assert [step for step, _ in history] == [299, 399]
    assert again.current_step() == 400
    assert history[-1][1] < 100  # the loss went down from ~100+ at the start


def test_summaries_and_graph_are_written(toy, tmp_path):
    build(toy, tmp_path / "run").train(100)
    tags, has_graph = set(), False
    for event_file in (tmp_path / "run" / "train").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            has_graph |= bool(event.graph_def)
            tags.update(value.tag for value in event.summary.value)
    assert has_graph and {"summaries/loss", "summaries/histogram_loss"} <= tags


def test_mismatched_checkpoint_is_refused(toy, tmp_path):
    build(toy, tmp_path / "run").train(100)
    other = build(toy, tmp_path / "run", embed_size=32)
    with pytest.raises(CheckpointMismatchError, match="embed_size: checkpoint has 16, this run has 32"):
        other.train(100)
    # checkpoints that no config.json describes are refused too
    (tmp_path / "run" / "config.json").unlink()
    with pytest.raises(CheckpointMismatchError, match="no config.json says what wrote them"):
        build(toy, tmp_path / "run").train(100)


def test_embeddings_and_visualize(toy, tmp_path):
    model = build(toy, tmp_path / "run")
    model.train(100)
    embeddings = model.embeddings()
    assert embeddings.shape == (len(toy.vocab), 16) and np.isfinite(embeddings).all()
    folder = model.visualize(toy.vocab, num_visualize=50)
    assert (folder / "projector_config.pbtxt").exists()
    assert (folder / "metadata.tsv").read_text().splitlines() == toy.vocab.words[:50]


def test_same_seed_same_weights(toy, tmp_path):
    a = build(toy, tmp_path / "a")
    a.train(100)
    b = build(toy, tmp_path / "b")
    b.train(100)
    np.testing.assert_allclose(a.embeddings(), b.embeddings(), rtol=1e-6)


def test_resumed_runs_keep_pruning_old_checkpoints(toy, tmp_path):
    model = build(toy, tmp_path / "run")
    model.train(500)  # checkpoints at 100 .. 500; max_to_keep=5
    again = build(toy, tmp_path / "run")
    again.train(300)  # 600 .. 800: the oldest ones from the first run must go
    state = tf.compat.v1.train.get_checkpoint_state(str(tmp_path / "run" / "checkpoints"))
    kept = [int(path.rsplit("-", 1)[1]) for path in state.all_model_checkpoint_paths]
    assert kept == [400, 500, 600, 700, 800]
    on_disk = sorted(
        int(p.name.split("-")[2].split(".")[0]) for p in (tmp_path / "run" / "checkpoints").glob("skip-gram-*.index")
    )
    assert on_disk == kept


def test_resumed_run_equals_uninterrupted_run(toy, tmp_path):
    """The noise words are keyed by (seed, global_step) and the input resumes at global_step, so a run
    stopped at a checkpoint and resumed in a new session reaches bitwise the uninterrupted run's weights."""
    straight = build(toy, tmp_path / "straight")
    straight.train(300)
    build(toy, tmp_path / "stopped").train(100)
    resumed = build(toy, tmp_path / "stopped")  # a new graph and session, as after a crash
    assert resumed.current_step() == 100
    resumed.train(200)
    np.testing.assert_array_equal(resumed.embeddings(), straight.embeddings())


def checkpoint_steps(run_dir):
    return sorted(int(p.name.split("-")[2].split(".")[0]) for p in (run_dir / "checkpoints").glob("skip-gram-*.index"))


def test_a_copied_or_moved_run_directory_works_and_leaves_the_original_alone(toy, tmp_path):
    original = tmp_path / "A"
    build(toy, original).train(500)  # checkpoints 100 .. 500
    expected = build(toy, original).embeddings()
    state = (original / "checkpoints" / "checkpoint").read_text()
    assert str(tmp_path) not in state  # relative paths only
    copy = tmp_path / "B"
    shutil.copytree(original, copy)
    build(toy, copy).train(500)  # the copy prunes its own checkpoints: 600 .. 1000 remain
    assert checkpoint_steps(copy) == [600, 700, 800, 900, 1000]
    assert checkpoint_steps(original) == [100, 200, 300, 400, 500]
    np.testing.assert_array_equal(build(toy, original).embeddings(), expected)
    moved = tmp_path / "elsewhere" / "A"
    shutil.move(original, moved)
    assert build(toy, moved).current_step() == 500
    np.testing.assert_array_equal(build(toy, moved).embeddings(), expected)


def test_a_state_file_pointing_into_another_directory_is_not_followed(toy, tmp_path):
    """A run copied from an older version whose state file held absolute paths into the original."""
    original, copy = tmp_path / "A", tmp_path / "B"
    build(toy, original).train(300)
    shutil.copytree(original, copy)
    absolute = "".join(
        f'{key}: "{original / "checkpoints" / f"skip-gram-{step}"}"\n'
        for key, step in [("model_checkpoint_path", 300)] + [("all_model_checkpoint_paths", s) for s in (100, 200, 300)]
    )
    (copy / "checkpoints" / "checkpoint").write_text(absolute)
    build(toy, copy).train(500)
    assert checkpoint_steps(original) == [100, 200, 300]
    assert checkpoint_steps(copy) == [400, 500, 600, 700, 800]


def test_hyperparameters_and_config_must_agree(toy, tmp_path):
    stream = SkipGramStream(toy.ids, 32, 1, seed=0)
    config = Word2VecConfig(vocab_size=200, embed_size=16, batch_size=32, num_sampled=8, skip_step=100)
    with pytest.raises(ValueError, match="learning_rate=0.5 but config.learning_rate=1.0"):
        SkipGramModel(stream, len(toy.vocab), 16, 32, 8, 0.5, skip_step=100, run_dir=tmp_path, config=config)
    with pytest.raises(ValueError, match="batches of 32 pairs, not batch_size=64"):
        SkipGramModel(stream, len(toy.vocab), 16, 64, 8, 1.0, run_dir=tmp_path)
    with pytest.raises(TypeError, match="SkipGramStream"):
        SkipGramModel(lambda: None, len(toy.vocab), 16, 32, 8, 1.0, run_dir=tmp_path)
