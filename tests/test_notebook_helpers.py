"""cs20lib.notebook's folders (re-running a cell never deletes results) and cs20lib.events (reading logs back)."""

import linecache
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from cs20lib import events, notebook


@pytest.fixture
def fresh_session(monkeypatch):
    """A new kernel session: no folder opened yet."""
    monkeypatch.setattr(notebook, "_opened_this_session", set())


def test_run_folder_keeps_results_within_a_session(fresh_session, tmp_path, monkeypatch):
    monkeypatch.setenv(notebook.KEEP_EARLIER_ENV, "1")
    folder = notebook.run_folder("02_word2vec_nce", root=tmp_path)
    (folder / "result.txt").write_text("trained")
    again = notebook.run_folder("02_word2vec_nce", root=tmp_path)  # the settings cell run a second time
    assert again == folder and (again / "result.txt").read_text() == "trained"


def test_run_folder_moves_an_earlier_session_aside(fresh_session, tmp_path, monkeypatch):
    monkeypatch.setenv(notebook.KEEP_EARLIER_ENV, "1")
    old = tmp_path / "07_summaries" / "logs"
    old.mkdir(parents=True)
    (old / "events").write_text("earlier session")
    folder = notebook.run_folder("07_summaries", root=tmp_path)
    assert list(folder.iterdir()) == []  # a fresh session starts clean ...
    (kept,) = (tmp_path / notebook.EARLIER).iterdir()  # ... and nothing is deleted
    assert kept.name.startswith("07_summaries-") and (kept / "logs" / "events").read_text() == "earlier session"


def test_two_sessions_in_one_second_each_keep_their_results_and_earlier_is_bounded(tmp_path, monkeypatch):
    """Kernel sessions starting within the same second used to collide on the folder's name (OSError: Directory
    not empty), and runs/earlier/ grew by a copy per session without bound."""
    monkeypatch.setenv(notebook.KEEP_EARLIER_ENV, "1")
    monkeypatch.setattr(notebook.time, "strftime", lambda pattern: "20261204-120000")  # all in one second
    for session in range(6):
        monkeypatch.setattr(notebook, "_opened_this_session", set())  # a new kernel session
        folder = notebook.run_folder("02_word2vec_nce", root=tmp_path)
        (folder / "result.txt").write_text(f"session {session}")
    kept = sorted((tmp_path / notebook.EARLIER).iterdir())
    assert len(kept) == notebook.EARLIER_KEPT == 3
    assert sorted((path / "result.txt").read_text() for path in kept) == ["session 2", "session 3", "session 4"]
    assert (tmp_path / "02_word2vec_nce" / "result.txt").read_text() == "session 5"


def test_run_folder_deletes_earlier_results_only_when_told(fresh_session, tmp_path, monkeypatch):
    monkeypatch.setenv(notebook.KEEP_EARLIER_ENV, "0")  # the tests and `make notebooks`
    (tmp_path / "09" / "x").mkdir(parents=True)
    assert list(notebook.run_folder("09", root=tmp_path).iterdir()) == []
    assert not (tmp_path / notebook.EARLIER).exists()


class _Shell:
    """The part of IPython's shell that the short traceback uses."""

    class compile:  # noqa: N801 (IPython's attribute name)
        _filename_map = {}

    def __init__(self):
        self.shown = None

    def _showtraceback(self, etype, value, stb):
        self.shown = (etype, value, stb)


def test_short_traceback_shows_the_cells_and_the_message_only():
    shell = _Shell()
    source = "def make():\n    raise ValueError('Variable h1 already exists\\n\\nOriginally defined at:\\n  File x, line 1')\nmake()\n"  # noqa: E501
    cell = "/tmp/ipykernel_123/4567.py"
    shell.compile._filename_map = {cell: 7}
    linecache.cache[cell] = (len(source), None, source.splitlines(True), cell)  # as IPython registers a cell
    try:
        exec(compile(source, cell, "exec"), {})
    except ValueError as error:
        stb = notebook._short_traceback(shell, ValueError, error, error.__traceback__)
    assert stb == [
        "Cell In[7], line 3:  make()",
        "Cell In[7], line 2:  raise ValueError('Variable h1 already "
        "exists\\n\\nOriginally defined at:\\n  File x, line 1')",
        "  (1 frames inside libraries not shown: notebook.full_tracebacks() shows them)",
        "ValueError: Variable h1 already exists",
    ]
    assert shell.shown[2] == stb


def test_read_events_orders_steps_and_lets_a_rerun_win(tmp_path):
    for run, offset in ((1, 0.0), (2, 10.0)):  # the same cell run twice writes steps 0..2 twice
        writer = tf.summary.create_file_writer(str(tmp_path), filename_suffix=f".run{run}")
        with writer.as_default():
            for step in (2, 0, 1):
                tf.summary.scalar("loss", offset + step, step=step)
                tf.summary.histogram("weights", np.arange(4.0), step=step)
        writer.close()
    found = events.read_events(tmp_path)
    assert sorted(found) == ["loss", "weights"]
    steps, values = events.read_scalars(tmp_path, "loss")
    assert steps.tolist() == [0, 1, 2] and values.tolist() == [10.0, 11.0, 12.0]
    assert np.asarray(found["weights"][1][0]).ndim == 2  # histogram buckets
    with pytest.raises(KeyError, match="no summary 'accuracy'.*'loss'"):
        events.read_scalars(tmp_path, "accuracy")


def test_read_events_says_what_to_run_when_empty(tmp_path):
    with pytest.raises(FileNotFoundError, match="no TensorBoard event file yet: run the cell that writes it first"):
        events.read_events(tmp_path)


def test_a_notebooks_run_is_named_after_the_corpus_it_read(monkeypatch, text8_head):
    """With CS20_TEXT8 pointing at text8_head.zip, notebook 02's hand-built run and notebook 08's (through
    experiment.prepare_data) were named tf2-text8-... and tf2-text8_head-...: one corpus, two names."""
    from cs20lib.config import Word2VecConfig
    from cs20lib.experiment import prepare_data

    monkeypatch.setenv("CS20_TEXT8", str(text8_head))
    settings = Word2VecConfig(max_words=20_000, vocab_size=1_000)
    corpus = notebook.load_corpus(max_words=20_000)
    by_hand = notebook.for_corpus(settings, corpus)
    _, prepared = prepare_data(settings, progress=False)
    assert by_hand.corpus == prepared.corpus == "text8_head"
    assert by_hand.corpus_fingerprint == prepared.corpus_fingerprint
    assert by_hand.run_name("tf2") == prepared.run_name("tf2")


# -- results checked against the settings they were made with (notebook.record / notebook.result) ------------
@pytest.fixture
def no_results(monkeypatch):
    monkeypatch.setattr(notebook, "_results", {})


def test_a_result_comes_back_while_the_settings_hold(no_results):
    settings = {"NUM_TRAIN_STEPS": 10_000, "MAX_WORDS": 1_000_000}
    losses = [3.0, 2.0]
    assert notebook.record("the TF1 run", losses, settings) is losses
    assert notebook.result("the TF1 run", dict(settings)) is losses
    # a setting defined after the run (a later cell's) does not make it stale
    assert notebook.result("the TF1 run", {**settings, "TAPE_STEPS": 1_000}) is losses


def test_a_result_made_under_other_settings_says_which_changed_and_what_to_run(no_results):
    notebook.record("the TF1 run", [3.0], {"NUM_TRAIN_STEPS": 10_000, "MAX_WORDS": 1_000_000})
    with pytest.raises(notebook.StaleResultError) as caught:
        notebook.result("the TF1 run", {"NUM_TRAIN_STEPS": 20_000, "MAX_WORDS": 1_000_000})
    message = str(caught.value)
    assert "\n" not in message
    assert "NUM_TRAIN_STEPS = 10000" in message and "NUM_TRAIN_STEPS = 20000" in message
    assert "MAX_WORDS" not in message and "run the training cells" in message


def test_a_result_not_made_yet_says_to_run_the_training_cells(no_results):
    with pytest.raises(notebook.StaleResultError, match="has not run in this kernel yet: run the training cells"):
        notebook.result("the Trainer's run", {})


def test_the_settings_are_the_notebooks_upper_case_names_with_plain_values(no_results, monkeypatch):
    namespace = {"NUM_TRAIN_STEPS": 100, "WORKDIR": Path("runs/x"), "W": 3, "lecture_losses": [1.0], "ARRAY": object()}
    monkeypatch.setattr(notebook, "_notebook_namespace", lambda depth=2: namespace)
    notebook.record("run", "value")
    assert notebook._results["run"][0] == {"NUM_TRAIN_STEPS": 100, "WORKDIR": Path("runs/x")}
    namespace["W"] = 4  # one letter: a demonstration's variable, not a setting
    assert notebook.result("run") == "value"
    namespace["NUM_TRAIN_STEPS"] = 200
    with pytest.raises(notebook.StaleResultError):
        notebook.result("run")


def test_empty_folder_deletes_what_a_cells_earlier_run_wrote(tmp_path):
    folder = tmp_path / "tf1"
    folder.mkdir()
    (folder / "events.out.tfevents.1").write_text("old run")
    assert notebook.empty_folder(folder) == folder
    assert folder.is_dir() and not any(folder.iterdir())
    assert notebook.empty_folder(tmp_path / "new" / "tf1").is_dir()
