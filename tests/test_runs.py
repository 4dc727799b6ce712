"""Run directories: keyed on the corpus's content, resumable from the newest readable checkpoint (damaged
ones moved aside, never pruned, never a silent restart), clear errors for unusable settings files."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from cs20lib import runs
from cs20lib.config import Word2VecConfig
from cs20lib.experiment import prepare_data
from cs20lib.runs import CheckpointMismatchError, RunError
from cs20lib.skipgram import SkipGramStream
from cs20lib.tf1_model import SkipGramModel
from cs20lib.training import Trainer

SMALL = dict(vocab_size=200, embed_size=16, batch_size=32, num_sampled=8, skip_step=100, num_train_steps=400)


@pytest.fixture(scope="module")
def toy():
    return prepare_data(Word2VecConfig(**SMALL), "toy")


def tf2_run(toy, run_dir, until=None, **overrides):
    data, config = toy
    trainer = Trainer(config.replace(**overrides), data.vocab, data.ids, run_dir, verbose=False)
    trainer.train(until)
    return trainer


def tf1_run(toy, run_dir, steps=None):
    data, config = toy
    model = SkipGramModel.from_config(config, data, run_dir, verbose=False)
    if steps:
        model.train(steps)
    return model


def steps_on_disk(run_dir, basename):
    return runs.checkpoint_steps(run_dir / "checkpoints", basename)


def damage(run_dir, basename, step, how):
    prefix = run_dir / "checkpoints" / f"{basename}-{step}"
    if how == "truncated data":
        data = prefix.with_name(prefix.name + ".data-00000-of-00001")
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    elif how == "empty index":
        prefix.with_name(prefix.name + ".index").write_bytes(b"")
    elif how == "deleted index":
        prefix.with_name(prefix.name + ".index").unlink()
    elif how == "deleted state file":
        (run_dir / "checkpoints" / "checkpoint").unlink()


# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["truncated data", "empty index", "deleted index", "deleted state file"])
def test_tf2_resumes_from_the_newest_readable_checkpoint(toy, tmp_path, how):
    run_dir = tmp_path / "run"
    tf2_run(toy, run_dir, until=300)  # checkpoints 100, 200, 300 (max_to_keep 3)
    straight = tf2_run(toy, tmp_path / "straight")  # 400 steps without interruption
    damage(run_dir, "ckpt", 300, how)
    fallback = 200 if how != "deleted state file" else 300
    resumed = Trainer(toy[1], toy[0].vocab, toy[0].ids, run_dir, verbose=False)
    assert resumed.restored_from.endswith(f"ckpt-{fallback}") and int(resumed.step.numpy()) == fallback
    if how in ("truncated data", "empty index"):
        assert resumed.notes and "skipped checkpoint ckpt-300" in resumed.notes[0] and "moved to" in resumed.notes[0]
        assert sorted(p.name.split(".")[0] for p in (run_dir / "checkpoints" / "damaged").iterdir()) == ["ckpt-300"] * 2
    resumed.train()
    np.testing.assert_array_equal(resumed.embeddings(), straight.embeddings())  # same weights as if nothing happened
    assert steps_on_disk(run_dir, "ckpt")[0] == 400


@pytest.mark.parametrize("how", ["truncated data", "empty index", "deleted state file"])
def test_tf1_resumes_from_the_newest_readable_checkpoint(toy, tmp_path, how):
    run_dir = tmp_path / "run"
    tf1_run(toy, run_dir, 300)
    damage(run_dir, "skip-gram", 300, how)
    model = tf1_run(toy, run_dir)
    assert model.current_step() == (200 if how != "deleted state file" else 300)
    model.train(100)
    assert steps_on_disk(run_dir, "skip-gram")[0] == (300 if how != "deleted state file" else 400)
    np.testing.assert_array_equal(runs.load_embeddings(run_dir), model.embeddings())


def test_evaluation_skips_a_damaged_checkpoint_without_moving_it(toy, tmp_path):
    run_dir = tmp_path / "run"
    trainer = tf2_run(toy, run_dir, until=200)
    at_100 = tf.train.load_checkpoint(str(run_dir / "checkpoints" / "ckpt-100")).get_tensor(runs.EMBEDDING_KEYS["tf2"])
    damage(run_dir, "ckpt", 200, "truncated data")
    notes = []
    np.testing.assert_array_equal(runs.load_embeddings(run_dir, notes=notes), at_100)
    assert "ckpt-200" in notes[0] and (run_dir / "checkpoints" / "ckpt-200.index").exists()
    assert trainer is not None


def test_unreadable_checkpoints_stop_training_instead_of_starting_over(toy, tmp_path):
    run_dir = tmp_path / "run"
    tf2_run(toy, run_dir, until=200)
    for step in (100, 200):
        damage(run_dir, "ckpt", step, "empty index")
    with pytest.raises(RunError, match="none of the checkpoints .* can be read.*Nothing was deleted"):
        Trainer(toy[1], toy[0].vocab, toy[0].ids, run_dir, verbose=False)
    assert sorted(p.name for p in (run_dir / "checkpoints" / "damaged").iterdir())  # kept, not deleted


def test_a_failed_save_removes_its_temporary_folder_and_keeps_the_last_good_checkpoint(toy, tmp_path):
    run_dir = tmp_path / "run"
    trainer = tf2_run(toy, run_dir, until=100)

    def full_disk():
        (run_dir / "checkpoints" / "ckpt-200_temp").mkdir()
        raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

    with pytest.raises(
        RunError, match=r"could not save the checkpoint of step 200 .*No space left on device.*ckpt-100"
    ):
        runs.save_checkpoint(full_disk, run_dir / "checkpoints", 200, trainer.manager.latest_checkpoint)
    assert not (run_dir / "checkpoints" / "ckpt-200_temp").exists()
    assert steps_on_disk(run_dir, "ckpt") == [100]


# ----------------------------------------------------------------------------------------------
def test_runs_are_keyed_on_the_corpus_content_not_its_name(tmp_path):
    first, second = tmp_path / "a" / "corpus.txt", tmp_path / "b" / "corpus.txt"
    for path, text in ((first, " the cat sat on the mat " * 50), (second, " a dog ran in the park " * 50)):
        path.parent.mkdir()
        path.write_text(text)
    config = Word2VecConfig(
        vocab_size=None, embed_size=8, batch_size=16, num_sampled=4, num_train_steps=20, skip_step=10
    )
    (data_a, config_a), (data_b, config_b) = prepare_data(config, first), prepare_data(config, second)
    assert config_a.corpus == config_b.corpus == "corpus"
    assert runs.run_dir_for(config_a, "tf2") != runs.run_dir_for(config_b, "tf2")
    run_dir = tmp_path / "run"
    Trainer(config_a, data_a.vocab, data_a.ids, run_dir, verbose=False).train()
    vocab_before = (run_dir / "vocab.json").read_text()
    with pytest.raises(CheckpointMismatchError, match="trained on another corpus"):
        Trainer(config_b, data_b.vocab, data_b.ids, run_dir, verbose=False)
    assert (run_dir / "vocab.json").read_text() == vocab_before  # nothing overwritten


def test_run_names_stay_short_for_long_corpus_names():
    config = Word2VecConfig(corpus="x" * 300, corpus_fingerprint="0123456789abcdef")
    name = config.run_name("tf2")
    assert len(name.encode()) <= 150 and name.startswith("tf2-" + "x" * 32 + "-")
    assert name != Word2VecConfig(corpus="x" * 301, corpus_fingerprint="0123456789abcdef").run_name("tf2")[:-1]


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "does not say which API"),
        ('{"vocab_size": 5}', "does not say which API"),
        ('{"api": "tf2", "nonsense": 1}', "settings this version cannot read"),
    ],
)
def test_unusable_config_files_are_named_with_a_remedy(tmp_path, text, message):
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(RunError, match=message) as error:
        runs.read_run_config(tmp_path)
    assert str(tmp_path / "config.json") in str(error.value) and "train into a new run directory" in str(error.value)


def test_the_train_command_of_a_run_repeats_its_settings(toy, tmp_path):
    data, config = toy
    runs.open_run(tmp_path / "run", config.replace(learning_rate=0.5, corpus="toy"), "tf1", data.vocab)
    command = runs.train_command(tmp_path / "run")
    assert command.startswith("python -m cs20lib train --corpus toy --run-dir ")
    for flag in ("--api tf1", "--learning-rate 0.5", "--vocab-size 200", "--embed-size 16", "--steps 400"):
        assert flag in command


def test_a_run_directory_that_is_a_file_is_refused(toy, tmp_path):
    (tmp_path / "run").write_text("")
    with pytest.raises(RunError, match="is a file, not a directory"):
        runs.open_run(tmp_path / "run", toy[1], "tf2")


def test_stream_from_config_matches_the_trainers_stream(toy):
    data, config = toy
    stream = SkipGramStream.from_config(config, data.ids, data.vocab.counts)
    assert (stream.batch_size, stream.skip_window, stream.sample, stream.drop_unk) == (32, 1, 0.0, False)
    assert shutil is not None


# ----------------------------------------------------------------------------------------------
# The checkpoint state file after a resume (issue 22: items 7 and 9)
class TensorFlowLog:
    """What TensorFlow's Python logger printed at WARNING and above while in use."""

    def __enter__(self):
        import logging

        self.records, logger = [], tf.get_logger()
        self.handler = logging.Handler(logging.WARNING)
        self.handler.emit = self.records.append
        logger.addHandler(self.handler)
        return self

    def __exit__(self, *exc):
        tf.get_logger().removeHandler(self.handler)

    @property
    def lines(self):
        return [f"{record.levelname}: {record.getMessage()}" for record in self.records]


def state_paths(run_dir):
    state = (run_dir / "checkpoints" / "checkpoint").read_text()
    return [line.split('"')[1] for line in state.splitlines() if "checkpoint_path" in line]


@pytest.mark.parametrize("where", ["relative", "absolute"])
@pytest.mark.parametrize("api", ["tf1", "tf2"])
def test_a_resume_writes_a_state_file_that_the_lectures_idiom_reads(toy, tmp_path, monkeypatch, api, where):
    monkeypatch.chdir(tmp_path)
    run_dir = Path("runs") / "run" if where == "relative" else tmp_path / "runs" / "run"
    basename = runs.CHECKPOINT_BASENAMES[api]
    with TensorFlowLog() as log:
        if api == "tf2":
            tf2_run(toy, run_dir, until=200)
            Trainer(toy[1], toy[0].vocab, toy[0].ids, run_dir, verbose=False)  # restores: rewrites the state file
        else:
            tf1_run(toy, run_dir, 200)
            tf1_run(toy, run_dir, 100)  # restores, then trains on to 300
        latest = tf.train.latest_checkpoint(str(run_dir / "checkpoints"))  # the lecture's way to find it
    assert not [line for line in log.lines if "ERROR" in line or "deprecat" in line.lower()], log.lines
    assert all("/" not in path and path.startswith(basename + "-") for path in state_paths(run_dir)), state_paths(
        run_dir
    )
    newest = max(runs.checkpoint_steps(run_dir / "checkpoints", basename))
    assert latest is not None and Path(latest) == run_dir / "checkpoints" / f"{basename}-{newest}"
    assert tf.train.get_checkpoint_state(str(run_dir / "checkpoints")).model_checkpoint_path == latest


@pytest.mark.parametrize("api", ["tf1", "tf2"])
def test_keep_n_holds_across_resumes(toy, tmp_path, api):
    """Three interrupted sessions of 200 steps each, checkpoints every 100: the run keeps its last few, as one
    uninterrupted run would (TF2: CheckpointManager's max_to_keep=3; TF1: the lecture's Saver(max_to_keep=5))."""
    run_dir = tmp_path / "run"
    basename, keep = runs.CHECKPOINT_BASENAMES[api], {"tf1": 5, "tf2": 3}[api]
    for session in range(1, 5):
        if api == "tf2":
            tf2_run(toy, run_dir, until=200 * session, num_train_steps=1_000)
        else:
            tf1_run(toy, run_dir, 200)
    steps = runs.checkpoint_steps(run_dir / "checkpoints", basename)
    assert steps == list(range(800, 800 - 100 * keep, -100)), steps
    assert len(state_paths(run_dir)) == keep + 1  # model_checkpoint_path + the kept ones
