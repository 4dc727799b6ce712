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
import errno
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
    "serve_from_tf_config",
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


def task_address(cluster: dict, job: str, index: int) -> str:
    """``host:port`` of task ``job:index``; ClusterError naming the cluster's tasks when it has no such task."""
    addresses = cluster.get(job) or []
    if not isinstance(index, int) or not 0 <= index < len(addresses):
        have = ", ".join(f"{name}: {len(tasks)}" for name, tasks in cluster.items())
        raise ClusterError(
            f"task {job}:{index} is not in the cluster, which has {have} task(s) "
            f"({json.dumps(cluster)}): give a task index from 0 to {len(addresses) - 1} of the '{job}' job"
            if addresses
            else f"task {job}:{index} is not in the cluster: it has no '{job}' job ({json.dumps(cluster)})"
        )
    return addresses[index]


def port_holder(port: int) -> str | None:
    """Which process listens on TCP ``port`` here ("pid 123: python -m http.server"), from /proc; None if unknown."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as lines:
                next(lines)
                for line in lines:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
                        inodes.add(fields[9])
        except (OSError, StopIteration, IndexError, ValueError):
            continue
    if not inodes:
        return None
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            links = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
            if any(f"socket:[{inode}]" in links for inode in inodes):
                with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                    command = cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()
                return f"pid {pid}: {command[:120]}"
        except OSError:
            continue
    return "another process"


def check_port_free(task: str, address: str) -> None:
    """ClusterError naming ``task``, its ``address`` and the cause when TensorFlow could not listen on the
    address's port (it listens on every interface): another process holds the port, or it is not allowed."""
    port = int(address.rsplit(":", 1)[1])
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                holder = port_holder(port)
                raise ClusterError(
                    f"task {task} cannot listen on {address}: port {port} is already in use"
                    + (f" ({holder})" if holder else "")
                    + "; stop that process, or give this task another port in TF_CONFIG"
                ) from None
            raise ClusterError(f"task {task} cannot listen on {address} ({error.strerror or error})") from None


def _listening_sockets() -> dict[str, tuple[str, int]]:
    """This machine's TCP LISTEN sockets: {socket inode: (local address, port)} (from /proc/net/tcp and tcp6)."""
    found = {}
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            with open(table) as lines:
                next(lines)
                for line in lines:
                    fields = line.split()
                    if fields[3] != "0A":  # 0A: LISTEN
                        continue
                    address, hex_port = fields[1].rsplit(":", 1)
                    raw = bytes.fromhex(address)
                    if v6:  # four 32-bit words, each in host (little-endian) order
                        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                        host = socket.inet_ntop(socket.AF_INET6, raw)
                    else:
                        host = socket.inet_ntop(socket.AF_INET, raw[::-1])
                    found[fields[9]] = (host, int(hex_port, 16))
        except (OSError, StopIteration, IndexError, ValueError):
            continue
    return found


def listening_hosts(port: int) -> set[str]:
    """The local addresses the LISTEN sockets on TCP ``port`` are bound to."""
    return {host for host, bound in _listening_sockets().values() if bound == port}


WILDCARDS = {"0.0.0.0", "::"}
#: set to 1 to leave a local cluster's servers listening on every interface where they cannot be restricted to
#: the loopback device (not Linux): TensorFlow's servers run any graph sent to them, so only on a machine that no
#: one else can reach
ANY_INTERFACE_ENV = "CS20_CLUSTER_ANY_INTERFACE"


def own_wildcard_listeners() -> dict[int, int]:
    """This process's LISTEN sockets bound to every interface: {file descriptor: port}."""
    sockets = _listening_sockets()
    found = {}
    try:
        descriptors = os.listdir("/proc/self/fd")
    except OSError:
        return found
    for fd in descriptors:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and (entry := sockets.get(target[8:-1])) and entry[0] in WILDCARDS:
            found[int(fd)] = entry[1]
    return found


def keep_on_loopback(descriptors=None) -> list[int]:
    """Make this process's TensorFlow servers accept connections from the loopback device only; the ports.

    TensorFlow's gRPC server takes only the port of its address and listens on every interface
    ("0.0.0.0:PORT"), and it runs any graph sent to it, without authentication. This binds each listening
    socket (``descriptors``, default: every one of this process that listens on every interface) to the
    loopback device (``SO_BINDTODEVICE "lo"``, Linux): a connection from the network, even to this
    machine's own address, is refused; 127.0.0.1 works as before. ClusterError where that cannot be done,
    unless ``CS20_CLUSTER_ANY_INTERFACE=1`` says to accept it.
    """
    descriptors = own_wildcard_listeners() if descriptors is None else descriptors
    restricted = []
    for fd, port in descriptors.items():
        try:
            with socket.socket(fileno=os.dup(fd)) as listener:  # a second handle on the same socket
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"lo")
                bound = listener.getsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, 16).rstrip(b"\0")
            if bound != b"lo":
                raise OSError(f"the socket is bound to {bound!r}")
            restricted.append(port)
        except (OSError, AttributeError) as error:
            if os.environ.get(ANY_INTERFACE_ENV) == "1":
                continue
            raise ClusterError(
                f"cannot keep TensorFlow's server on port {port} off the network ({error}): it listens on every "
                f"interface and runs any graph sent to it. On a machine no one else can reach, set "
                f"{ANY_INTERFACE_ENV}=1 to go on anyway"
            ) from None
    return restricted


def is_local(cluster: dict) -> bool:
    """Whether every task of ``cluster`` is on this machine's loopback addresses (a local cluster)."""
    hosts = {address.rsplit(":", 1)[0].strip("[]") for addresses in cluster.values() for address in addresses}
    return bool(hosts) and all(host in LOOPBACK or host.startswith("127.") for host in hosts)


class servers_on_loopback:
    """Within this context, TensorFlow servers this process starts for a local cluster are kept on loopback:
    on leaving, every socket that began listening on every interface inside it is restricted to the
    loopback device (:func:`keep_on_loopback`). For a cluster with other hosts it does nothing."""

    def __init__(self, cluster: dict):
        self.local = is_local(cluster)

    def __enter__(self):
        self.before = set(own_wildcard_listeners()) if self.local else set()
        return self

    def __exit__(self, kind, *exc):
        if self.local and kind is None:
            keep_on_loopback({fd: port for fd, port in own_wildcard_listeners().items() if fd not in self.before})


def _end_with_parent(parent: int) -> None:
    """End this process as soon as ``parent`` (the process that started it) ends, however it ends.

    Linux: the kernel sends SIGKILL when the parent dies (``prctl(PR_SET_PDEATHSIG)``); a parent that died
    before that was set is caught by the check after it. Elsewhere a thread watches the parent.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
        except (AttributeError, OSError):
            pass
    if os.getppid() != parent:
        os._exit(0)  # started by a parent that is already gone: nothing to serve

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="cs20-watch-parent").start()


def run_task(cluster: dict, job: str, index: int, *, parent: int | None = None) -> None:
    """Run one task of ``cluster`` (``job`` "ps" or "worker") until the process is stopped.

    The task's address must be in the cluster and its port free (else ClusterError naming the task, the
    address and the cause). A task of a local cluster (every address on 127.0.0.1) accepts connections
    from the loopback device only (:func:`keep_on_loopback`). With ``parent`` (a PID) the task ends as
    soon as that process ends, however it ends, so a local cluster never outlives its coordinator.
    """
    if parent is not None:
        _end_with_parent(parent)
    task = f"{job}:{index}"
    address = task_address(cluster, job, index)
    check_port_free(task, address)  # TensorFlow listens on every interface (restricted below for a local cluster)
    from .tf_logging import import_tensorflow

    tf = import_tensorflow()
    num_workers = len(cluster.get("worker", []))
    try:
        with servers_on_loopback(cluster):
            server = tf.distribute.Server(
                tf.train.ClusterSpec(cluster),
                job_name=job,
                task_index=index,
                protocol="grpc",
                config=server_config(job, num_workers),
                start=True,
            )
    except (tf.errors.OpError, ValueError) as error:
        reason = str(getattr(error, "message", error)).strip().splitlines()[0]
        raise ClusterError(f"task {task} could not start its server on {address} ({reason})") from None
    where = "the loopback device only" if is_local(cluster) else "every interface"
    print(f"{task} listening on {address} (accepting connections from {where})", flush=True)
    server.join()


def serve_from_tf_config(environ=None) -> None:
    """``python -m cs20lib cluster-task``: this machine's task of the cluster in ``TF_CONFIG``."""
    environ = os.environ if environ is None else environ
    cluster, kind, index = cluster_from_tf_config(environ)
    if kind not in ("ps", "worker") or index is None:
        raise ClusterError(
            f"TF_CONFIG's task is {kind!r} {index!r}; cluster-task runs a 'ps' or 'worker' task (the chief runs "
            f"python -m cs20lib train --strategy parameter-server)"
        )
    host = task_address(cluster, kind, index).rsplit(":", 1)[0]
    bypass_proxies([*LOOPBACK, host])
    run_task(cluster, kind, index)


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
        env = self._environment()
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

    @staticmethod
    def _environment() -> dict:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
        env.pop("TF_CONFIG", None)
        return env

    def start_task(self, job: str, index: int, env=None) -> None:
        """(Re)start one task, e.g. a worker after :meth:`kill`, as a cluster manager would."""
        command = [sys.executable, "-m", "cs20lib.cluster", json.dumps(self.cluster), job, str(index), str(os.getpid())]
        env = env if env is not None else self._environment()
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


if __name__ == "__main__":  # one task of a LocalCluster: python -m cs20lib.cluster CLUSTER_JSON JOB INDEX PARENT_PID
    try:
        run_task(json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]), parent=int(sys.argv[4]))
    except ClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
