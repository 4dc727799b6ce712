"""tools.screenshots: the TensorBoard pictures in the notebooks come from a real TensorBoard in Chromium.

The browser test makes small logs of each kind the notebooks write (a graph without and with name scopes,
the lecture's SkipGramModel graph, a Trainer's loss, a projector export), points the tool at them, and
checks that each page showed what its caption promises (the projector's point count is the number of rows
exported) and that the PNGs are the viewport's size. The quick tests check that every shot is on a page:
its notebook shows it from an attachment that holds a PNG.
"""

import base64
import contextlib
import dataclasses
import json
import os
import signal
import struct
import subprocess

import nbformat
import pytest
from conftest import REPO

from tools import screenshots

NOTEBOOKS = REPO / "notebooks"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("shot", screenshots.SHOTS, ids=lambda s: s.name)
def test_every_screenshot_is_shown_by_its_notebook_from_an_attachment(shot):
    nb = nbformat.read(NOTEBOOKS / f"{shot.notebook}.ipynb", as_version=4)
    reference = f"attachment:{shot.name}.png"
    cells = [cell for cell in nb.cells if cell.cell_type == "markdown" and reference in cell.source]
    assert cells, f"{shot.notebook}.ipynb does not show {reference}"
    for cell in cells:
        data = cell.get("attachments", {}).get(f"{shot.name}.png", {}).get("image/png")
        assert data, f"{shot.notebook}.ipynb: {reference} has no image: run make screenshots"
        width, height = png_size(base64.b64decode(data))
        assert (width, height) == (screenshots.VIEWPORT["width"], screenshots.VIEWPORT["height"])


def test_the_record_says_what_each_shot_showed():
    record = json.loads((screenshots.OUT / "screenshots.json").read_text())
    assert [shot["name"] for shot in record["shots"]] == [shot.name for shot in screenshots.SHOTS]
    projector = next(shot for shot in record["shots"] if shot["name"] == "08_projector")
    assert projector["points"] == 3000  # notebook 08's NUM_VISUALIZE, the lecture's


def test_a_missing_log_directory_names_the_notebook_that_makes_it(tmp_path):
    with pytest.raises(screenshots.ScreenshotError, match=r"run notebook 07_summaries.* tools.notebooks run 07"):
        screenshots.take(screenshots.SHOTS[3], tmp_path, tmp_path, browser=None)


def test_attach_refuses_a_shot_that_no_cell_shows(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("no picture here")])
    nbformat.write(nb, tmp_path / "07_summaries_and_tensorboard.ipynb")
    (tmp_path / "07_scalars_loss.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(screenshots.ScreenshotError, match="no markdown cell that shows"):
        screenshots.attach(tmp_path, tmp_path, [screenshots.SHOTS[3]])


# -- the real thing: TensorBoard + Chromium on small logs ------------------------------------------
def make_logs(runs):
    """Logs of every kind the shots read, written by the same cs20lib code the notebooks use, small."""
    import contextlib as cl

    import tensorflow as tf

    from cs20lib.config import Word2VecConfig
    from cs20lib.experiment import prepare_data
    from cs20lib.projector import export_projector
    from cs20lib.skipgram import SkipGramStream
    from cs20lib.tf1_model import SkipGramModel
    from cs20lib.training import Trainer

    tf1 = tf.compat.v1
    for scoped, run in ((False, "without_scopes"), (True, "with_scopes")):
        scope = tf.name_scope if scoped else (lambda name: cl.nullcontext())
        graph = tf.Graph()
        with graph.as_default():
            with scope("data"):
                centers = tf1.placeholder(tf.int32, [None], name="centers")
            with scope("embed"):
                matrix = tf1.get_variable("matrix", [10, 3], initializer=tf1.zeros_initializer())
                embed = tf.nn.embedding_lookup(matrix, centers, name="embedding")
            with scope("loss"):
                tf.reduce_mean(tf.square(embed), name="loss")
            tf1.summary.FileWriter(str(runs / "03_structuring_a_model" / "small_graph" / run), graph).close()
    config = Word2VecConfig(vocab_size=None, embed_size=8, num_sampled=4, batch_size=32, skip_step=100)
    data, config = prepare_data(config.replace(num_train_steps=600), "toy", progress=False)
    model = SkipGramModel(SkipGramStream(data.ids, 32, 1, seed=0), len(data.vocab), 8, 32, 4, 1.0).build_graph()
    with model.graph.as_default():
        tf1.summary.FileWriter(str(runs / "03_structuring_a_model" / "graph"), model.graph).close()
    trainer = Trainer(config, data.vocab, data.ids, runs / "07_summaries_and_tensorboard" / "word2vec", verbose=False)
    trainer.train()
    rows = 300
    export_projector(runs / "08_embedding_visualization" / "projector_tf2", trainer.embeddings(), data.vocab, rows)
    return rows


@pytest.mark.browser
@pytest.mark.slow
def test_the_tool_takes_every_shot_from_a_real_tensorboard_and_checks_its_caption(tmp_path):
    if screenshots.handouts.find_chromium() is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    runs, out = tmp_path / "runs", tmp_path / "out"
    rows = make_logs(runs)
    before = set(os.listdir("/proc"))
    # the toy corpus has no "france": select one of its words instead
    shots = [dataclasses.replace(shot, select="her") if shot.select else shot for shot in screenshots.SHOTS]
    taken = screenshots.take_all(runs, out, shots, log=lambda line: None)
    assert [facts["name"] for facts in taken] == [shot.name for shot in screenshots.SHOTS]
    for shot in screenshots.SHOTS:
        assert png_size((out / f"{shot.name}.png").read_bytes()) == (1280, 760)
    facts = {f["name"]: f for f in taken}
    assert facts["08_projector"]["points"] == rows and facts["08_projector"]["dimension"] == 8
    assert facts["08_projector"]["selected"] == "her" and len(facts["08_projector"]["neighbours_listed"]) >= 5
    assert facts["03_graph_with_scopes"]["nodes"] == ["data", "embed", "loss", "matrix"]
    assert {"Square", "centers", "embedding"} <= set(facts["03_graph_without_scopes"]["nodes"])
    assert facts["03_graph_with_scopes"]["nodes_drawn"] < facts["03_graph_without_scopes"]["nodes_drawn"]
    record = json.loads((out / "screenshots.json").read_text())
    assert record["shots"] == taken
    # every TensorBoard the tool started has ended (the tool starts them in tmp_path: others' are not ours)
    leftovers = []
    for pid in set(os.listdir("/proc")) - before:
        with contextlib.suppress(OSError):
            ours = pid.isdigit() and os.readlink(f"/proc/{pid}/cwd") == str(tmp_path)
            if ours and b"tensorboard" in (open(f"/proc/{pid}/cmdline", "rb").read()):
                leftovers.append(int(pid))
    for pid in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not leftovers, "TensorBoard processes were left running"


def test_make_screenshots_runs_the_tool():
    makefile = (REPO / "Makefile").read_text()
    assert "\nscreenshots: $(STAMP)\n\t$(BIN)/python -m tools.screenshots" in makefile
    done = subprocess.run(["make", "-n", "screenshots"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert "-m tools.screenshots" in done.stdout
