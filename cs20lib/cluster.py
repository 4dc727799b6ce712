"""A TensorFlow cluster of parameter servers and workers: a local one for learning and tests, or a real one.

TensorFlow's distributed engine runs one ``tf.distribute.Server`` per task; a *coordinator* (the
process that runs the training loop) sends them work over gRPC. On real machines each task reads the
cluster from the ``TF_CONFIG`` environment variable, e.g. two machines, ``10.0.0.1`` running a
parameter server and a worker, ``10.0.0.2`` a worker and the coordinator (the "chief")::

    TF_CONFIG='{"cluster": {"ps": ["10.0.0.1:2222"], "worker": ["10.0.0.1:2223", "10.0.0.2:2222"],
                "chief": ["10.0.0.2:2223"]}, "task": {"type": "ps", "index": 0}}'  python -m cs20lib cluster-task

(the same ``cluster`` everywhere, ``task`` naming each process; the chief runs ``python -m cs20lib train
--strategy parameter-server``). :class:`LocalCluster` starts such tasks as child processes of this one on
127.0.0.1, on free ports (``python -m cs20lib cluster`` keeps one running for you), and ends them.

A trap on small machines: a worker whose inter-op thread pool has a single thread can wait for itself
for minutes (the coordinator's closures and the worker's own function calls share that pool), which
TensorFlow's own in-process test clusters avoid by giving workers ``num_workers + 1`` threads when cores
are few. :func:`server_config` does the same, and every wait here has a time limit with a clear error.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

__all__ = [
    "ClusterError",
    "LocalCluster",
    "cluster_from_tf_config",
    "first_closed",
    "free_port",
    "run_task",
    "server_config",
    "wait_for_ports",
]

#: seconds a local cluster's tasks get to start listening (importing TensorFlow takes most of it)
START_TIMEOUT = 120.0
#: seconds a task gets to end after SIGTERM before it is killed
STOP_TIMEOUT = 10.0


class ClusterError(RuntimeError):
    """A cluster could not start, a task stopped, or a wait ran out of time; the message says what to do."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_ports(addresses, timeout: float, alive=None) -> None:
    """Wait until every ``host:port`` in ``addresses`` accepts connections, at most ``timeout`` seconds.

    ``alive()`` (optional) is asked between tries and raises when a task has already died.
    """
    deadline = time.monotonic() + timeout
    pending = list(addresses)
    while pending:
        host, port = pending[0].rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=1.0).close()
            pending.pop(0)
            continue
        except OSError:
            pass
        if alive is not None:
            alive()
        if time.monotonic() > deadline:
            raise ClusterError(
                f"the cluster's tasks did not start listening within {timeout:.0f} s ({', '.join(pending)} "
                f"still closed); the machine may be overloaded: try again, or with fewer workers"
            )
        time.sleep(0.2)


def first_closed(cluster: dict, jobs=("ps", "worker")) -> str | None:
    """The first task of ``cluster`` (parameter servers first) that does not accept connections, as
    ``"ps:0 (host:port)"``; None when all do. How a coordinator names the task that failed."""
    for job in jobs:
        for index, address in enumerate(cluster.get(job, [])):
            host, port = address.rsplit(":", 1)
            try:
                socket.create_connection((host, int(port)), timeout=2.0).close()
            except OSError:
                return f"{job}:{index} ({address})"
    return None


#: loopback names that gRPC must reach directly, never through a proxy
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def bypass_proxies(hosts=LOOPBACK, environ=None) -> None:
    """Add ``hosts`` to ``no_proxy`` / ``NO_PROXY`` in ``environ`` (default: this process's environment).

    gRPC, like most HTTP clients, sends its connections through ``http_proxy`` / ``https_proxy`` when they are
    set (a campus or company proxy): a coordinator would then never reach its own tasks on 127.0.0.1 and
    would wait on them. A cluster's own addresses are always reached directly.
    """
    environ = os.environ if environ is None else environ
    for name in ("no_proxy", "NO_PROXY"):
        present = [entry.strip() for entry in environ.get(name, "").split(",") if entry.strip()]
        environ[name] = ",".join(present + [host for host in hosts if host not in present])


def server_config(job: str, num_workers: int):
    """The session config of a task: workers get at least ``num_workers + 1`` inter-op threads (see above)."""
    import tensorflow as tf

    config = tf.compat.v1.ConfigProto()
    if job == "worker":
        config.inter_op_parallelism_threads = max(num_workers + 1, os.cpu_count() or 1)
    return config


def cluster_from_tf_config(environ=None, *, need_ps: bool = True) -> tuple[dict, str | None, int | None]:
    """``(cluster, task type, task index)`` from ``TF_CONFIG``; a clear error when it is missing or malformed."""
    environ = os.environ if environ is None else environ
    text = environ.get("TF_CONFIG")
    if not text:
        raise ClusterError(
            "TF_CONFIG is not set: on a real cluster every task needs it (see `python -m cs20lib cluster --help`); "
            "for a cluster on this machine leave TF_CONFIG unset and train with --strategy parameter-server"
        )
    try:
        spec = json.loads(text)
        cluster = {job: list(addresses) for job, addresses in spec["cluster"].items()}
        task = spec.get("task") or {}
        kind, index = task.get("type"), task.get("index")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ClusterError(
            f"TF_CONFIG is not a cluster description ({exc}): it must be JSON like "
            '{"cluster": {"ps": ["host:port"], "worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}'
        ) from None
    if not cluster.get("worker") or (need_ps and not cluster.get("ps")):
        needs = "at least one 'ps' and one 'worker' address" if need_ps else "at least one 'worker' address"
        raise ClusterError(f"TF_CONFIG's cluster needs {needs}; it has {cluster}")
    return cluster, kind, None if index is None else int(index)


def run_task(cluster: dict, job: str, index: int, *, watch_parent: bool = False) -> None:
    """Run one task of ``cluster`` (``job`` "ps" or "worker") until the process is stopped.

    With ``watch_parent`` the task ends when the process that started it is gone, so a local cluster
    never outlives its coordinator, even one that was killed.
    """
    from .tf_logging import import_tensorflow

    tf = import_tensorflow()
    num_workers = len(cluster.get("worker", []))
    server = tf.distribute.Server(
        tf.train.ClusterSpec(cluster),
        job_name=job,
        task_index=index,
        protocol="grpc",
        config=server_config(job, num_workers),
        start=True,
    )
    if watch_parent:
        parent = os.getppid()

        def watch():
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(0)

        threading.Thread(target=watch, daemon=True).start()
    print(f"{job}:{index} listening on {cluster[job][index]}", flush=True)
    server.join()


class LocalCluster:
    """``num_ps`` parameter servers and ``num_workers`` workers as child processes on 127.0.0.1.

    Use it as a context manager (the tasks are ended on leaving, even on an error), or call
    :meth:`start` and :meth:`stop`. :meth:`resolver` gives the cluster to
    ``tf.distribute.ParameterServerStrategy``; :meth:`kill` ends one task abruptly, as a machine failure
    would. Every task also ends by itself when this process ends.
    """

    def __init__(self, num_workers: int = 2, num_ps: int = 1, *, start_timeout: float = START_TIMEOUT):
        from . import checks

        checks.integer("num_workers", num_workers, 1, 64)
        checks.integer("num_ps", num_ps, 1, 64)
        self.num_workers, self.num_ps, self.start_timeout = num_workers, num_ps, start_timeout
        self.cluster = {
            "worker": [f"127.0.0.1:{free_port()}" for _ in range(num_workers)],
            "ps": [f"127.0.0.1:{free_port()}" for _ in range(num_ps)],
        }
        self.processes: dict[tuple[str, int], subprocess.Popen] = {}
        self.killed: set[tuple[str, int]] = set()
        self.log_dir = None  # each task's standard error goes to a file here (a pipe could fill and stall it)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> LocalCluster:
        """Start every task and wait until each listens (at most ``start_timeout`` seconds)."""
        bypass_proxies()  # this process's channels to the tasks, before TensorFlow opens any
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
        env.pop("TF_CONFIG", None)
        self.log_dir = tempfile.mkdtemp(prefix="cs20-cluster-")
        atexit.register(shutil.rmtree, self.log_dir, True)  # also when the tasks are left to end with this process
        try:
            for job, addresses in self.cluster.items():
                for index in range(len(addresses)):
                    self.start_task(job, index, env)
            wait_for_ports(
                [a for addresses in self.cluster.values() for a in addresses], self.start_timeout, self.check
            )
        except BaseException:
            self.stop()
            raise
        return self

    def start_task(self, job: str, index: int, env=None) -> None:
        """(Re)start one task, e.g. a worker after :meth:`kill`, as a cluster manager would."""
        command = [sys.executable, "-m", "cs20lib.cluster", json.dumps(self.cluster), job, str(index)]
        with open(os.path.join(self.log_dir, f"{job}-{index}.log"), "ab") as log:
            self.processes[job, index] = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log
            )
        self.killed.discard((job, index))

    def check(self) -> None:
        """Raise :class:`ClusterError` if a task has ended (with the end of what it wrote to stderr)."""
        for (job, index), process in self.processes.items():
            if process.poll() is not None and (job, index) not in self.killed:
                with open(os.path.join(self.log_dir, f"{job}-{index}.log"), errors="replace") as log:
                    tail = log.read().strip().splitlines()[-3:]
                raise ClusterError(
                    f"{job}:{index} ({self.cluster[job][index]}) ended with exit code {process.returncode}"
                    + (": " + " | ".join(tail) if tail else "")
                )

    def resolver(self):
        """A ``SimpleClusterResolver`` for this cluster (gRPC), for ``ParameterServerStrategy``."""
        import tensorflow as tf

        return tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec(self.cluster), rpc_layer="grpc"
        )

    def kill(self, job: str, index: int) -> None:
        """End one task with SIGKILL (no clean-up: what a crashed machine looks like to the others)."""
        process = self.processes[job, index]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)
        self.killed.add((job, index))

    def stop(self) -> None:
        """End every task: SIGTERM, then SIGKILL after :data:`STOP_TIMEOUT` seconds. Safe to call twice."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        if self.log_dir:
            shutil.rmtree(self.log_dir, ignore_errors=True)
            self.log_dir = None

    def __repr__(self) -> str:
        return f"LocalCluster(workers={self.cluster['worker']}, ps={self.cluster['ps']})"


if __name__ == "__main__":  # one task of a LocalCluster: python -m cs20lib.cluster CLUSTER_JSON JOB INDEX
    run_task(json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]), watch_parent=True)
