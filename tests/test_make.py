"""The Makefile's targets that start something: `make lab` runs JupyterLab, also as root (containers, CI images)."""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO

from cs20lib.cluster import free_port


@pytest.mark.slow
def test_make_lab_starts_jupyterlab_for_the_user_running_it(tmp_path):
    """As root JupyterLab refuses to run ("Running as root is not recommended. Use --allow-root to bypass.")
    unless the target passes --allow-root; as anyone else it must not need it. Bound to 127.0.0.1 on a free
    port, stopped by the test."""
    port = free_port()
    venv = Path(sys.prefix)
    args = (
        f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 --ServerApp.token=cs20test --ServerApp.open_browser=False"
    )
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    lab = subprocess.Popen(
        ["make", "-s", "-o", f"{venv}/.cs20-installed", "lab", f"VENV={venv}", f"ARGS={args}"],  # no venv rebuild
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline, answered = time.monotonic() + 120, False
        while time.monotonic() < deadline and lab.poll() is None and not answered:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token=cs20test", timeout=3) as reply:
                    answered = reply.status == 200
            except OSError:
                time.sleep(0.5)
        if not answered:
            os.killpg(lab.pid, signal.SIGTERM)
            out = lab.communicate(timeout=30)[0]
            pytest.fail(f"make lab did not serve JupyterLab (uid {os.getuid()}):\n{out[-3000:]}")
    finally:
        try:
            os.killpg(lab.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait(timeout=30)
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^lab: .*\n(\t.*\n)*\t.*--allow-root", makefile, re.M)
