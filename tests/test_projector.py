"""The Embedding Projector export, checked against a real TensorBoard serving it."""

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from cs20lib.projector import CHECKPOINT_PREFIX, METADATA_FILE, checkpoint_key, export_projector, projector_command
from cs20lib.vocab import Vocabulary

N_WORDS, DIM = 50, 8
APIS = ("tf1", "tf2")
STARTUP_TIMEOUT = 60.0


def make_vocab(n=N_WORDS):
    return Vocabulary(["UNK"] + [f"word{i:02d}" for i in range(1, n)], [1000] + list(range(n - 1, 0, -1)))


def make_matrix(n=N_WORDS, dim=DIM, seed=0):
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def files(folder):
    return sorted(p.name for p in Path(folder).iterdir())


# --- a real TensorBoard --------------------------------------------------------------------------
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, logdir, log):
        self.port = free_port()
        self.log = open(log, "wb")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tensorboard.main",
                "--logdir",
                str(logdir),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self.logfile = Path(log)

    def get(self, route, **params):
        url = f"http://127.0.0.1:{self.port}/data/plugin/projector{route}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.read()

    def wait_for_runs(self, expected, deadline):
        """Poll /runs until the server answers with every expected run (bounded by ``deadline``)."""
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(
                    f"TensorBoard exited with {self.proc.returncode}:\n{self.logfile.read_text(errors='replace')[-3000:]}"  # noqa: E501
                )
            try:
                last = json.loads(self.get("/runs"))
                if set(expected) <= set(last):
                    return last
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.25)
        pytest.fail(
            f"TensorBoard did not list {expected} within {STARTUP_TIMEOUT:.0f}s (last answer {last}):\n"
            f"{self.logfile.read_text(errors='replace')[-3000:]}"
        )

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.log.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Two TensorBoards, started together.

    ``nested``: ``--logdir logs`` where ``logs/<api>/projector`` holds each API's export beside a
    ``logs/<api>/train`` run with ordinary scalar summaries. ``root``: ``--logdir`` is the export
    folder itself, exported elsewhere and then moved there (the folder must survive a move).
    """
    base = tmp_path_factory.mktemp("projector")
    vocab, matrix = make_vocab(), make_matrix()

    logs = base / "logs"
    for api in APIS:
        export_projector(logs / api / "projector", matrix, vocab, api=api)
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        writer = EventFileWriter(str(logs / api / "train"))
        for step in range(3):
            value = summary_pb2.Summary.Value(tag="loss", simple_value=1.0 / (step + 1))
            writer.add_event(
                event_pb2.Event(step=step, wall_time=time.time(), summary=summary_pb2.Summary(value=[value]))
            )
        writer.close()

    exported = export_projector(base / "exported_elsewhere", matrix * 2, vocab, n_words=30, api="tf2")
    root = base / "moved_root"
    shutil.move(str(exported), str(root))

    servers = {"nested": Server(logs, base / "tb_nested.log"), "root": Server(root, base / "tb_root.log")}
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        servers["nested"].wait_for_runs([f"{api}/projector" for api in APIS], deadline)
        servers["root"].wait_for_runs(["."], deadline)
        yield {"servers": servers, "vocab": vocab, "matrix": matrix, "root_matrix": matrix[:30] * 2}
    finally:
        for server in servers.values():
            server.stop()


def test_tensorboard_lists_one_projector_run_per_export(served):
    runs = json.loads(served["servers"]["nested"].get("/runs"))
    # the train runs beside the exports hold no embeddings, so the projector does not list them
    assert sorted(runs) == ["tf1/projector", "tf2/projector"]


@pytest.mark.parametrize("api", APIS)
def test_tensorboard_serves_the_exported_rows_and_words(served, api):
    server, vocab, matrix = served["servers"]["nested"], served["vocab"], served["matrix"]
    run, name = f"{api}/projector", checkpoint_key(api)
    assert name == {"tf1": "embedding", "tf2": "embedding/.ATTRIBUTES/VARIABLE_VALUE"}[api]

    info = json.loads(server.get("/info", run=run))
    (embedding,) = info["embeddings"]
    assert embedding["tensorName"] == name
    assert [int(x) for x in embedding["tensorShape"]] == [N_WORDS, DIM]
    assert embedding["metadataPath"] == METADATA_FILE

    tensor = np.frombuffer(server.get("/tensor", run=run, name=name), dtype=np.float32).reshape(N_WORDS, DIM)
    np.testing.assert_array_equal(tensor, matrix)

    words = server.get("/metadata", run=run, name=name).decode("utf-8").splitlines()
    assert words == vocab.words
    assert words[0] == "UNK"


def test_tensorboard_serves_a_moved_export_given_as_the_logdir_itself(served):
    server, vocab = served["servers"]["root"], served["vocab"]
    assert json.loads(server.get("/runs")) == ["."]
    name = checkpoint_key("tf2")
    info = json.loads(server.get("/info", run="."))
    assert [int(x) for x in info["embeddings"][0]["tensorShape"]] == [30, DIM]
    tensor = np.frombuffer(server.get("/tensor", run=".", name=name), dtype=np.float32).reshape(30, DIM)
    np.testing.assert_array_equal(tensor, served["root_matrix"])
    assert server.get("/metadata", run=".", name=name).decode("utf-8").splitlines() == vocab.words[:30]


# --- the files, without a server -----------------------------------------------------------------
def read_checkpoint(folder, key):
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(folder))  # through the folder's `checkpoint` file
    return reader.get_variable_to_shape_map(), reader.get_tensor(key)


@pytest.mark.parametrize("api", APIS)
def test_file_layout_and_config(tmp_path, api):
    out = export_projector(tmp_path / "p", make_matrix(), make_vocab(), n_words=20, api=api)
    assert out == tmp_path / "p"
    names = files(out)
    events = [n for n in names if n.startswith("events.out.tfevents.")]
    assert len(events) == 1
    expected = [
        "checkpoint",
        METADATA_FILE,
        f"{CHECKPOINT_PREFIX}-1.data-00000-of-00001",
        f"{CHECKPOINT_PREFIX}-1.index",
        "projector_config.pbtxt",
    ] + ([f"{CHECKPOINT_PREFIX}-1.meta"] if api == "tf1" else [])
    assert sorted(n for n in names if n not in events) == sorted(expected)

    config = (out / "projector_config.pbtxt").read_text()
    assert f'tensor_name: "{checkpoint_key(api)}"' in config
    assert f'metadata_path: "{METADATA_FILE}"' in config  # relative: the folder can move
    assert "model_checkpoint_path" not in config
    assert str(tmp_path) not in (out / "checkpoint").read_text()  # TF's state file is relative too

    shapes, rows = read_checkpoint(out, checkpoint_key(api))
    assert [list(s) for k, s in shapes.items() if len(s) == 2] == [[20, DIM]]
    np.testing.assert_array_equal(rows, make_matrix()[:20])
    assert rows.dtype == np.float32
    assert (out / METADATA_FILE).read_text().splitlines() == make_vocab().words[:20]


def test_re_export_replaces_the_previous_one(tmp_path):
    vocab, out = make_vocab(), tmp_path / "p"
    export_projector(out, make_matrix(seed=1), vocab, api="tf1")
    export_projector(out, make_matrix(seed=2), vocab, n_words=10, api="tf2")
    export_projector(out, make_matrix(seed=3).astype(np.float64), vocab, n_words=12, api="tf2", tensor_name="vectors")
    names = files(out)
    assert sum(n.startswith("events.out.tfevents.") for n in names) == 1
    assert [n for n in names if n.startswith(CHECKPOINT_PREFIX)] == [
        f"{CHECKPOINT_PREFIX}-1.data-00000-of-00001",
        f"{CHECKPOINT_PREFIX}-1.index",
    ]  # no stale tf1 .meta
    state = (out / "checkpoint").read_text()
    assert state.count(f'"{CHECKPOINT_PREFIX}-1"') == 2 and "-2" not in state
    key = checkpoint_key("tf2", "vectors")
    assert key == "vectors/.ATTRIBUTES/VARIABLE_VALUE"
    shapes, rows = read_checkpoint(out, key)
    assert checkpoint_key("tf2") not in shapes
    np.testing.assert_array_equal(rows, make_matrix(seed=3)[:12])
    assert len((out / METADATA_FILE).read_text().splitlines()) == 12
    assert f'tensor_name: "{key}"' in (out / "projector_config.pbtxt").read_text()


def test_refuses_a_folder_holding_other_checkpoints(tmp_path):
    import tensorflow as tf

    tf.train.Checkpoint(w=tf.Variable([1.0])).save(str(tmp_path / "model"))
    before = files(tmp_path)
    with pytest.raises(ValueError, match="other checkpoints"):
        export_projector(tmp_path, make_matrix(), make_vocab())
    assert files(tmp_path) == before


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(embeddings=make_matrix(n=49)), ValueError, "49 rows but the vocabulary has 50"),
        (dict(embeddings=make_matrix()[:, 0]), ValueError, "2-D"),
        (dict(n_words=0), ValueError, "n_words must be a positive integer"),
        (dict(n_words=-5), ValueError, "n_words must be a positive integer"),
        (dict(n_words=2.5), ValueError, "n_words must be a positive integer"),
        (dict(n_words=True), ValueError, "n_words must be a positive integer"),
        (dict(api="tf3"), ValueError, "api must be one of 'tf1', 'tf2'"),
        (dict(tensor_name="my embedding"), ValueError, "tensor_name"),
        (dict(embeddings=np.full((N_WORDS, DIM), np.nan)), ValueError, "row 0 has NaN"),
        (dict(vocab=["UNK", "a"]), TypeError, "Vocabulary"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(tmp_path, kwargs, error, message):
    out = tmp_path / "p"
    export_projector(out, make_matrix(seed=7), make_vocab(), api="tf2")
    before = {n: (out / n).read_bytes() for n in files(out)}
    args = dict(embeddings=make_matrix(), vocab=make_vocab()) | kwargs
    with pytest.raises(error, match=message):
        export_projector(out, args.pop("embeddings"), args.pop("vocab"), **args)
    assert {n: (out / n).read_bytes() for n in files(out)} == before


def test_projector_command(tmp_path):
    folder = tmp_path / "my runs" / "projector"
    command = projector_command(folder)
    assert command.startswith("tensorboard --logdir ")
    if os.name != "nt":
        assert shlex.split(command) == ["tensorboard", "--logdir", str(folder.resolve())]
    assert projector_command(tmp_path) == f"tensorboard --logdir {shlex.quote(str(tmp_path.resolve()))}"
