"""The main job's time and quality: what `make demo` runs, end to end, timed as a new user meets it.

Run:  python benchmarks/demo.py [--corpus PATH] [--out DIR]

Runs ``python -m cs20lib train --corpus CORPUS --run-dir DIR/run`` (what ``make demo`` runs, the word2vec
preset) in a child process with an empty kernel cache, so the time includes compiling the training op as on a
new machine; reads the run's ``metrics.json``; prints and writes ``demo.json``: the wall time from start to
the last line (reading, training, evaluation, projector files, t-SNE plot), the training time the run printed,
the analogy accuracy and WordSim-353. ``benchmarks/results/demo.json`` is the figure of record that the README
and notebook 12 quote. The corpus defaults to ``wiki_text8like.zip`` from the shared data (text8's size).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("CS20_SHARED_DATA", HERE.parent.parent / "shared" / "data"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(SHARED / "wiki_text8like.zip"))
    parser.add_argument("--out", default=str(HERE.parent / "runs" / "demo_benchmark"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    run_dir = out / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cs20-kernels-") as cache:
        os.chmod(cache, 0o700)
        env = dict(os.environ, CS20_KERNEL_CACHE=cache)
        command = [sys.executable, "-m", "cs20lib", "train", "--corpus", args.corpus, "--run-dir", str(run_dir)]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    trained = re.search(r"trained in ([\d.]+) s", done.stdout)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    result = {
        "command": "make demo  (python -m cs20lib train, the word2vec preset)",
        "corpus": Path(args.corpus).name,
        "kernel_cache": "empty (the op compiled in the run)",
        "end_to_end_s": seconds,
        "training_s": float(trained[1]) if trained else None,
        "analogy": metrics["analogies"]["accuracy"],
        "analogy_considered": metrics["analogies"]["considered"],
        "wordsim": metrics["wordsim"]["spearman"],
        "cores": os.cpu_count(),
        "load_avg_after": os.getloadavg()[0],
    }
    (out / "demo.json").write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"make demo on {result['corpus']}: {seconds:.0f} s end to end (training {result['training_s']} s), "
        f"analogy {result['analogy']:.1%}, WordSim-353 {result['wordsim']:.3f}"
    )
    print(f"written: {out / 'demo.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
