"""Finish the project's Jupyter kernel spec (`make` runs this after `ipykernel install`).

TensorFlow writes start-up lines from C++ straight to file descriptor 2. In a notebook, ipykernel
normally forwards such low-level output into the cell, except under pytest, where it does not; so a
notebook executed in JupyterLab or by `make notebooks` would store lines that nbval never sees again.
Starting the kernel with ``--IPKernelApp.capture_fd_output=False`` makes every run behave alike (the
lines go to the terminal that started Jupyter instead of the notebook). The kernel also starts with
``TF_CPP_MIN_LOG_LEVEL=2``, as the lecture sets before importing TensorFlow, so that terminal does not
fill with INFO and WARNING lines either (set it to 0 in the kernel's environment to see them).
"""

import json
import sys
from pathlib import Path

FLAG = "--IPKernelApp.capture_fd_output=False"


def main(venv: str) -> None:
    spec_path = Path(venv) / "share" / "jupyter" / "kernels" / "cs20-word2vec" / "kernel.json"
    spec = json.loads(spec_path.read_text())
    if FLAG not in spec["argv"]:
        spec["argv"].append(FLAG)
    spec.setdefault("env", {}).setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    spec_path.write_text(json.dumps(spec, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
