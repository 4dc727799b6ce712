"""A local cluster's safety: its servers refuse connections from the network, its tasks end with their
coordinator however it ends, and a task that cannot start says which task, which address and why.

Every cluster binds 127.0.0.1 on free ports, every wait is bounded and every process a test starts is ended by
it. The network test makes a host of its own: a network namespace joined to this machine by a veth pair
(10.231.x.0/30, addresses that exist only inside this machine), and connects from there to this machine's side
of the pair; it needs root and iproute2 (CI runs as root), and is skipped with the reason otherwise.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from conftest import REPO

from cs20lib.cluster import ClusterError, free_port, keep_on_loopback, listening_hosts, task_address

TIMEOUT = 180
pytestmark = pytest.mark.slow  # clusters of processes, network namespaces


def python(*args, env=None, **options):
    """A child Python of its own session (so that the whole group can be ended), with this checkout's cs20lib."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.Popen([sys.executable, *map(str, args)], env=env, start_new_session=True, text=True, **options)


def end_group(process):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=30)


def children_running(pid: int, marker: str) -> list[int]:
    """PIDs of the live processes whose parent is ``pid`` (or that were, and now belong to init) and whose
    command line holds ``marker``."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                argv = cmdline.read().decode(errors="replace")
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[1]) == pid and marker in argv:
            found.append(int(entry))
    return found


def alive(pids) -> list[int]:
    def running(pid):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    return [pid for pid in pids if running(pid)]


# ----------------------------------------------------------------------------------------------
# A host of our own: a network namespace behind a veth pair
# ----------------------------------------------------------------------------------------------
@pytest.fixture
def outside_host():
    """(probe, address): ``probe(port)`` tries to connect, from a network namespace made for this test, to
    ``address``, this machine's end of a veth pair (a non-loopback address of this machine), and says
    "connected", "refused" or "timeout"."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2's ip to make a network namespace (CI runs as root)")
    tag = f"{os.getpid() % 10_000}"
    namespace, here, there = f"cs20t{tag}", f"cs20t{tag}a", f"cs20t{tag}b"
    subnet = f"10.231.{os.getpid() % 250}"
    address, inside = f"{subnet}.1", f"{subnet}.2"

    def ip(*args, netns=False):
        command = ["ip", "netns", "exec", namespace, "ip", *args] if netns else ["ip", *args]
        subprocess.run(command, check=True, capture_output=True, timeout=30)

    try:
        ip("netns", "add", namespace)
        ip("link", "add", here, "type", "veth", "peer", "name", there)
        ip("link", "set", there, "netns", namespace)
        ip("addr", "add", f"{address}/30", "dev", here)
        ip("link", "set", here, "up")
        ip("addr", "add", f"{inside}/30", "dev", there, netns=True)
        ip("link", "set", there, "up", netns=True)
        ip("link", "set", "lo", "up", netns=True)
    except subprocess.CalledProcessError as error:
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=30)
        pytest.skip(f"cannot make a network namespace here ({error.stderr.decode().strip()})")

    def probe(port: int) -> str:
        code = (
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(({address!r}, {port}), timeout=3).close(); print('connected')\n"
            "except ConnectionRefusedError: print('refused')\n"
            "except OSError: print('timeout')\n"
        )
        done = subprocess.run(
            ["ip", "netns", "exec", namespace, sys.executable, "-c", code], capture_output=True, text=True, timeout=30
        )
        return done.stdout.strip()

    try:
        yield probe, address
    finally:
        subprocess.run(["ip", "link", "del", here], capture_output=True, timeout=30)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=30)


def reachable_from_loopback(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
        return True
    except OSError:
        return False


def control_server():
    """A plain server listening on every interface: the probe must reach it, or the test proves nothing."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("0.0.0.0", 0))
    server.listen()
    return server


COORDINATOR = """
import json, sys, time
from cs20lib.cluster import LocalCluster
from cs20lib.distributed import parameter_server_strategy
from cs20lib.cluster import own_wildcard_listeners, _listening_sockets
import tensorflow as tf
with LocalCluster(num_workers=1, num_ps=1) as cluster:
    before = {port for _, port in _listening_sockets().values()}
    strategy = parameter_server_strategy(cluster.resolver(), num_ps=1)
    mine = sorted({port for _, port in _listening_sockets().values()} - before)
    ports = [int(a.rsplit(":", 1)[1]) for tasks in cluster.cluster.values() for a in tasks]
    print(json.dumps({"tasks": ports, "coordinator": mine}), flush=True)
    sys.stdin.read()  # until the test closes our standard input
"""


def test_a_local_clusters_servers_refuse_connections_from_the_network(outside_host):
    """The tasks' servers and the coordinator's own (TensorFlow listens on 0.0.0.0 for both) accept connections
    on 127.0.0.1 only: through this machine's non-loopback address they are refused."""
    probe, address = outside_host
    control = control_server()
    try:
        assert probe(control.getsockname()[1]) == "connected", f"the probe cannot reach {address} at all"
    finally:
        control.close()
    coordinator = python("-c", COORDINATOR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = coordinator.stdout.readline()
        assert line, coordinator.stderr.read()[-3000:]
        ports = json.loads(line)
        assert len(ports["tasks"]) == 2 and ports["coordinator"], ports
        for port in ports["tasks"] + ports["coordinator"]:
            assert reachable_from_loopback(port), port
            assert probe(port) == "refused", f"port {port} answers from the network"
    finally:
        coordinator.stdin.close()
        end_group(coordinator)


def test_a_task_started_from_tf_config_on_loopback_refuses_the_network(outside_host, tmp_path):
    probe, _ = outside_host
    port = free_port()
    spec = {"cluster": {"ps": [f"127.0.0.1:{port}"], "worker": [f"127.0.0.1:{free_port()}"]}}
    spec["task"] = {"type": "ps", "index": 0}
    task = python(
        "-m", "cs20lib", "cluster-task", env={"TF_CONFIG": json.dumps(spec)}, stdout=subprocess.PIPE, cwd=tmp_path
    )
    try:
        line = task.stdout.readline()
        assert "ps:0 listening on 127.0.0.1:" in line and "loopback device only" in line, line
        assert reachable_from_loopback(port)
        assert probe(port) == "refused"
    finally:
        end_group(task)


def test_keep_on_loopback_restricts_a_listening_socket():
    server = control_server()
    try:
        port = server.getsockname()[1]
        assert listening_hosts(port) == {"0.0.0.0"}
        assert keep_on_loopback({server.fileno(): port}) == [port]
        assert server.getsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, 16).rstrip(b"\0") == b"lo"
        assert reachable_from_loopback(port)
    finally:
        server.close()


# ----------------------------------------------------------------------------------------------
# Tasks end with their coordinator
# ----------------------------------------------------------------------------------------------
STARTER = """
from cs20lib.cluster import LocalCluster
LocalCluster(num_workers=2, num_ps=1).start()
import time
time.sleep(600)
"""


@pytest.mark.parametrize("when", ["while the tasks start", "once they listen"])
def test_tasks_end_within_seconds_of_a_killed_coordinator(when):
    coordinator = python("-c", STARTER, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tasks = []
    try:
        deadline = time.monotonic() + TIMEOUT
        while len(tasks) < 3 and time.monotonic() < deadline:  # the moment the three task processes exist
            tasks = children_running(coordinator.pid, "cs20lib.cluster")
            time.sleep(0.05)
        assert len(tasks) == 3, tasks
        if when == "once they listen":
            time.sleep(20)
        os.kill(coordinator.pid, signal.SIGKILL)
        coordinator.wait(timeout=30)
        deadline = time.monotonic() + 10
        while alive(tasks) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(tasks), f"tasks still running 10 s after their coordinator was killed: {alive(tasks)}"
    finally:
        for pid in alive(tasks):
            os.kill(pid, signal.SIGKILL)
        end_group(coordinator)


def test_a_killed_training_coordinator_leaves_no_task_behind(tmp_path):
    """The issue's probe: ``train --strategy parameter-server``, then ``kill -9`` of the coordinator while its
    tasks are starting."""
    command = ["-m", "cs20lib", "train", "--corpus", "toy", "--steps", "600", "--skip-step", "200"]
    command += ["--strategy", "parameter-server", "--workers", "2", "--ps", "1", "--tsne-words", "0", "--quiet"]
    coordinator = python(*command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tasks = []
    try:
        deadline = time.monotonic() + TIMEOUT
        while len(tasks) < 3 and time.monotonic() < deadline:
            tasks = children_running(coordinator.pid, "cs20lib.cluster")
            time.sleep(0.05)
        assert len(tasks) == 3, tasks
        os.kill(coordinator.pid, signal.SIGKILL)
        coordinator.wait(timeout=30)
        deadline = time.monotonic() + 10
        while alive(tasks) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(tasks), alive(tasks)
    finally:
        for pid in alive(tasks):
            os.kill(pid, signal.SIGKILL)
        end_group(coordinator)


# ----------------------------------------------------------------------------------------------
# A task that cannot start says why
# ----------------------------------------------------------------------------------------------
def cluster_task(spec, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "cs20lib", "cluster-task"],
        env={**os.environ, "PYTHONPATH": str(REPO), "TF_CONFIG": json.dumps(spec)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "check that the folder exists" not in done.stderr
    return done.stderr


def test_cluster_task_names_a_task_that_tf_config_does_not_define(tmp_path):
    spec = {"cluster": {"ps": ["127.0.0.1:2222"], "worker": ["127.0.0.1:2223"]}, "task": {"type": "worker", "index": 3}}
    message = cluster_task(spec, tmp_path)
    assert "task worker:3 is not in the cluster" in message and "0 to 0" in message, message
    with pytest.raises(ClusterError, match="no 'chief' job"):
        task_address(spec["cluster"], "chief", 0)


def test_cluster_task_names_the_process_holding_its_port(tmp_path):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        spec = {"cluster": {"ps": [f"127.0.0.1:{port}"], "worker": ["127.0.0.1:1"]}, "task": {"type": "ps", "index": 0}}
        message = cluster_task(spec, tmp_path)
        assert f"task ps:0 cannot listen on 127.0.0.1:{port}: port {port} is already in use" in message, message
        assert f"pid {os.getpid()}" in message, message
    finally:
        holder.close()


def test_ctrl_c_stops_a_parameter_server_run_ends_its_tasks_and_names_the_checkpoint(tmp_path):
    """Started from a script in the background (SIGINT inherited as ignored), as the issue's probe was: SIGINT to
    the coordinator stops the run within seconds, every task ends, and the message says how to resume."""
    run_dir = tmp_path / "run"
    command = ["-m", "cs20lib", "train", "--corpus", "toy", "--preset", "word2vec", "--embed-size", "32"]
    command += ["--steps", "30000", "--skip-step", "300", "--learning-rate", "3", "--tsne-words", "0", "--quiet"]
    command += ["--strategy", "parameter-server", "--run-dir", run_dir]
    coordinator = python(
        *command,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    tasks = []
    try:
        lines, deadline = [], time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            line = coordinator.stdout.readline()
            lines.append(line)
            if not line or "Average loss at step 599" in line:
                break
        assert "Average loss at step 599" in "".join(lines), "".join(lines)
        tasks = children_running(coordinator.pid, "cs20lib.cluster")
        assert len(tasks) == 3, tasks
        coordinator.send_signal(signal.SIGINT)
        started = time.monotonic()
        out = "".join(lines) + coordinator.communicate(timeout=60)[0]
        assert time.monotonic() - started < 20, out
        deadline = time.monotonic() + 10
        while alive(tasks) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(tasks), alive(tasks)
    finally:
        for pid in alive(tasks):
            os.kill(pid, signal.SIGKILL)
        end_group(coordinator)
    assert coordinator.returncode == 130, out
    line = next(line for line in out.splitlines() if line.startswith("interrupted at step"))
    assert "the last checkpoint is " in line and "/ckpt-" in line and "resume from it" in line, out
