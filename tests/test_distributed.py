"""Scale-out: the local cluster, parameter-server training with its faults, resharding checkpoints, and the
mirrored strategies. Every cluster binds 127.0.0.1 on free ports, every wait is bounded, and every process
a test starts is ended by it (a cluster's tasks also end with the process that started them). Training on
a cluster runs in a child process (``python -m cs20lib``), because connecting to a cluster binds the whole
TensorFlow runtime of a process to it."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import REPO

from cs20lib import runs
from cs20lib.cluster import ClusterError, LocalCluster, cluster_from_tf_config, first_closed, free_port

pytestmark = pytest.mark.slow  # clusters of processes and whole training runs

#: a small word2vec run on the toy corpus: 1,200 steps of 512 centers, 32 dimensions. The toy corpus has 457
#: words, so a batch holds each word many times and TensorFlow's ops add up all its updates in one step: at the
#: preset's 2,048 centers and subsampling 1e-3 that diverges here, so the batch is smaller and frequent words rarer
TOY = (
    "--corpus toy --preset word2vec --batch-size 512 --sample 1e-4 --embed-size 32 --init word2vec --skip-step 300 "
    "--tsne-words 0 --quiet"
).split()
TIMEOUT = 420


def cli(*args, cwd, env=None):
    """``python -m cs20lib`` as a child process of its own session (so a kill reaches its cluster too)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    command = [sys.executable, "-m", "cs20lib", *map(str, args)]
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def finish(process, expect=0):
    try:
        out, _ = process.communicate(timeout=TIMEOUT)
    finally:
        end_group(process)
    assert process.returncode == expect, f"exit {process.returncode}\n{out}"
    return out


def end_group(process):
    """SIGKILL whatever is left of a child's process group (its cluster tasks), then reap it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def tasks_of(pid: int) -> dict[str, int]:
    """The cluster tasks started by process ``pid``: {"ps:0": pid, "worker:1": pid, ...} (from /proc)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                argv = cmdline.read().decode().split("\0")
        except (OSError, IndexError, ValueError):
            continue
        if parent == pid and "cs20lib.cluster" in argv:
            job, index = argv[argv.index("cs20lib.cluster") + 2 : argv.index("cs20lib.cluster") + 4]
            found[f"{job}:{index}"] = int(entry)
    return found


def wait_for_line(process, text: str, timeout: float = TIMEOUT) -> list[str]:
    """Read the child's output until a line contains ``text``; returns the lines read."""
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    end_group(process)
    raise AssertionError(f"no line with {text!r} within {timeout} s:\n{''.join(lines)}")


def latest_step(run_dir) -> int:
    return max(runs.checkpoint_steps(run_dir / runs.CHECKPOINTS, runs.CHECKPOINT_BASENAMES["tf2"]))


def analogy_accuracy(run_dir) -> float:
    return json.loads((run_dir / "metrics.json").read_text())["analogies"]["accuracy"]


# ----------------------------------------------------------------------------------------------
# The cluster itself
# ----------------------------------------------------------------------------------------------
def test_local_cluster_listens_on_loopback_and_ends_every_task():
    with LocalCluster(num_workers=1, num_ps=1) as cluster:
        addresses = cluster.cluster["worker"] + cluster.cluster["ps"]
        assert all(address.startswith("127.0.0.1:") for address in addresses)
        assert first_closed(cluster.cluster) is None  # every task listens
        pids = [process.pid for process in cluster.processes.values()]
        cluster.kill("ps", 0)
        assert first_closed(cluster.cluster) == f"ps:0 ({cluster.cluster['ps'][0]})"
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(addresses[0].rsplit(":", 1)[1])), timeout=1).close()


def test_a_task_that_cannot_start_is_a_clear_error_not_a_wait():
    cluster = LocalCluster(num_workers=1, num_ps=1, start_timeout=60)
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))  # bound, not listening: the task cannot have the port, and nothing answers
    cluster.cluster["ps"] = [f"127.0.0.1:{blocker.getsockname()[1]}"]
    try:
        started = time.monotonic()
        with pytest.raises(ClusterError, match="ended with exit code|did not start listening"):
            cluster.start()
        assert time.monotonic() - started < 90
        assert not cluster.processes  # start() ended what it had started
    finally:
        blocker.close()
        cluster.stop()


def test_tf_config_is_read_and_bad_ones_say_what_to_do():
    spec = {"cluster": {"ps": ["10.0.0.1:2222"], "worker": ["10.0.0.2:2222"]}, "task": {"type": "ps", "index": 0}}
    assert cluster_from_tf_config({"TF_CONFIG": json.dumps(spec)}) == (spec["cluster"], "ps", 0)
    with pytest.raises(ClusterError, match="TF_CONFIG is not set"):
        cluster_from_tf_config({})
    with pytest.raises(ClusterError, match="not a cluster description"):
        cluster_from_tf_config({"TF_CONFIG": "{not json"})
    with pytest.raises(ClusterError, match="at least one 'ps'"):
        cluster_from_tf_config({"TF_CONFIG": json.dumps({"cluster": {"worker": ["a:1"]}})})


# ----------------------------------------------------------------------------------------------
# The workers' input pipeline
# ----------------------------------------------------------------------------------------------
def test_worker_window_dataset_makes_word2vec_windows():
    from cs20lib.distributed import worker_window_dataset

    ids = np.arange(1, 1001, dtype=np.int32) % 50  # 1000 words, id 0 (UNK) every 50th
    keep = np.ones(50, np.float32)
    keep[0] = 0.0  # UNK dropped
    batches = list(worker_window_dataset(ids, keep, batch_size=64, skip_window=3, seed=7).take(30))
    kept = ids[ids != 0]
    seen = set()
    for centers, contexts in batches:
        centers, contexts = centers.numpy(), contexts.numpy()
        assert centers.shape == (64,) and contexts.shape == (64, 6)
        assert 0 not in centers and 0 not in contexts
        for center, row in zip(centers, contexts):
            position = np.flatnonzero(kept == center)  # ids repeat every 49 kept words; windows are local
            assert len(position)
            words = row[row >= 0]
            assert 1 <= len(words) <= 6
            assert all(min(abs(np.flatnonzero(kept == w)[:, None] - position[None, :]).min(), 99) <= 3 for w in words)
        seen.update(centers.tolist())
    assert len(batches) == 30 and seen == set(kept.tolist())  # 15 batches an epoch: every word is a center


# ----------------------------------------------------------------------------------------------
# Parameter-server training
# ----------------------------------------------------------------------------------------------
def test_parameter_server_run_trains_like_one_process_and_its_checkpoints_read_as_any(tmp_path):
    """A run on 2 workers and 2 parameter servers (tables split in 2 row blocks) trains to the quality of the
    single-process run, and its checkpoints restore into the single-process model."""
    sharded = tmp_path / "sharded"
    args = ("--steps", 1200, "--strategy", "parameter-server", "--ps", 2, "--run-dir", sharded)
    out = finish(cli("train", *TOY, *args, cwd=tmp_path))
    assert "Average loss at step 1199" in out, out
    single = tmp_path / "single"
    finish(cli("train", *TOY, "--steps", 1200, "--run-dir", single, cwd=tmp_path))
    # quality within a margin: asynchronous updates differ from run to run. Measured (2026-12-03): one process
    # 42.6 % of the 312 toy analogies; 2 workers + 2 PS 29.5 %, 36.9 %, 36.5 % in three runs
    assert analogy_accuracy(sharded) >= 0.2, analogy_accuracy(sharded)
    assert analogy_accuracy(single) - analogy_accuracy(sharded) <= 0.2

    # the sharded checkpoint holds whole tables: every command reads it as it reads any run
    embeddings = runs.load_embeddings(sharded)
    assert embeddings.shape[1] == 32 and np.isfinite(embeddings).all()
    assert finish(cli("neighbours", sharded, "king", cwd=tmp_path)).startswith("king: ")
    out = finish(cli("train", *TOY, "--steps", 1200, "--run-dir", sharded, cwd=tmp_path))  # one process restores it
    assert "resuming from" in out and "(step 1,200)" in out, out


def test_a_run_moves_between_one_process_and_a_cluster(tmp_path):
    """Stopped on one process, resumed on a cluster of 3 parameter servers; stopped there, finished on one process."""
    run_dir = tmp_path / "run"
    process = cli("train", *TOY, "--steps", 1500, "--run-dir", run_dir, cwd=tmp_path)
    wait_for_line(process, "Average loss at step 599")  # the checkpoint of step 300 is on disk by now
    end_group(process)
    done = latest_step(run_dir)
    args = ("--strategy", "parameter-server", "--ps", 3, "--run-dir", run_dir)
    process = cli("train", *TOY, "--steps", 1500, *args, cwd=tmp_path)
    seen = "".join(wait_for_line(process, f"Average loss at step {done + 599}"))
    end_group(process)
    assert f"(step {done:,})" in seen, seen
    done = latest_step(run_dir)
    out = finish(cli("train", *TOY, "--steps", 1500, "--run-dir", run_dir, cwd=tmp_path))
    assert f"(step {done:,})" in out and "Average loss at step 1499" in out, out


def test_a_killed_worker_does_not_stop_the_run(tmp_path):
    run_dir = tmp_path / "run"
    process = cli("train", *TOY, "--steps", 1500, "--strategy", "parameter-server", "--run-dir", run_dir, cwd=tmp_path)
    seen = wait_for_line(process, "Average loss at step 299")
    tasks = tasks_of(process.pid)
    assert sorted(tasks) == ["ps:0", "worker:0", "worker:1"], tasks
    os.kill(tasks["worker:1"], signal.SIGKILL)
    out = "".join(seen) + finish(process)
    assert "Average loss at step 1499" in out and "analogies" in out, out
    assert latest_step(run_dir) == 1500


def test_a_killed_parameter_server_stops_with_a_clear_error_and_the_rerun_resumes(tmp_path):
    run_dir = tmp_path / "run"
    process = cli("train", *TOY, "--steps", 1500, "--strategy", "parameter-server", "--run-dir", run_dir, cwd=tmp_path)
    seen = wait_for_line(process, "Average loss at step 599")  # the checkpoint of step 300 is on disk by now
    os.kill(tasks_of(process.pid)["ps:0"], signal.SIGKILL)
    out = "".join(seen) + finish(process, expect=2)
    error = [line for line in out.splitlines() if line.startswith("error: ")]
    assert error and "task ps:0 (127.0.0.1:" in error[0] and "run the same command again to resume" in error[0], out
    assert "Traceback" not in out
    done = latest_step(run_dir)
    assert done >= 300
    out = finish(
        cli("train", *TOY, "--steps", 1500, "--strategy", "parameter-server", "--run-dir", run_dir, cwd=tmp_path)
    )
    assert f"(step {done:,})" in out and "Average loss at step 1499" in out, out


# ----------------------------------------------------------------------------------------------
# Mirrored replicas
# ----------------------------------------------------------------------------------------------
def test_mirrored_on_two_logical_cpus_trains_like_one_process(tmp_path):
    out = finish(
        cli(
            "train",
            *TOY,
            "--steps",
            1200,
            "--strategy",
            "mirrored",
            "--devices",
            2,
            "--run-dir",
            tmp_path / "m",
            cwd=tmp_path,
        )
    )
    assert "Average loss at step 1199" in out, out
    assert analogy_accuracy(tmp_path / "m") >= 0.3, out


def test_multi_worker_mirrored_on_two_local_workers(tmp_path):
    workers = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    run_dir = tmp_path / "run"
    processes = []
    for index in range(2):
        config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        args = ("train", *TOY, "--steps", 600, "--strategy", "multi-worker", "--run-dir", run_dir)
        processes.append(cli(*args, cwd=tmp_path, env={"TF_CONFIG": config}))
    try:
        chief, other = (finish(process) for process in processes)
    finally:
        for process in processes:
            end_group(process)
    assert "Average loss at step 599" in chief and "analogies" in chief, chief
    assert "analogies" not in other  # only the chief evaluates and writes
    assert latest_step(run_dir) == 600


def test_cluster_command_prints_its_tf_config_and_stops_its_tasks(tmp_path):
    process = cli("cluster", "--workers", 1, "--ps", 1, "--seconds", 3, cwd=tmp_path)
    out = finish(process)
    assert out.startswith("cluster up: 1 parameter server(s) 127.0.0.1:"), out
    spec = json.loads(out.split("TF_CONFIG='")[1].split("'")[0])
    assert spec["task"] == {"type": "chief", "index": 0} and len(spec["cluster"]["worker"]) == 1
    assert first_closed(spec["cluster"]) == f"ps:0 ({spec['cluster']['ps'][0]})"  # stopped with the command


def test_strategies_refuse_what_they_cannot_run(tmp_path):
    out = finish(cli("train", *TOY, "--preset", "lecture", "--strategy", "parameter-server", cwd=tmp_path), expect=2)
    assert "error: --strategy parameter-server trains word2vec's way" in out, out
    out = finish(cli("train", *TOY, "--strategy", "multi-worker", cwd=tmp_path), expect=2)
    assert "error: TF_CONFIG is not set" in out, out
