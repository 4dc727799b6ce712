"""How the word2vec preset's cost grows: training time and peak memory against corpus size and dimensions.

Run:  python benchmarks/scaling.py [--out DIR] [--epochs 1]

Each point trains cs20lib's TF2 trainer with the word2vec preset's settings (word2vec's loop as one op, rows
together, Hogwild on 2 threads) for ``--epochs`` passes in a child process of its own, and reports its
training time and peak RSS; a child that only imports TensorFlow gives the memory floor. The points:

* corpus size, 128 dimensions: text8_head (2.1M words), wiki_text8like (16.9M words, text8's size) and a
  50.8M-word corpus made by writing wiki_text8like three times over (made in ``--out``; its vectors mean
  nothing, only its cost is measured);
* dimensions 64, 128 and 300 on wiki_text8like.

Fits ``seconds = a + b * words`` and ``MB above the floor = c + d * words`` by least squares, and seconds
against dimensions, prints them, and writes ``scaling.json`` and ``scaling.png`` into ``--out``
(``benchmarks/results/`` keeps the figures of record; BENCHMARKS.md quotes them).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("CS20_SHARED_DATA", HERE.parent.parent / "shared" / "data"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def work(corpus: str, dims: int, epochs: float) -> dict:
    """One point: prepare, plan and train the word2vec preset on ``corpus`` with ``dims``; time and memory."""
    from memory import MemoryTrace

    trace = MemoryTrace()
    from cs20lib.tf_logging import import_tensorflow

    import_tensorflow().constant(1.0).numpy()
    from cs20lib.config import PRESETS
    from cs20lib.experiment import plan, prepare_data, train

    trace.stage("reading")
    started = time.perf_counter()
    data, config = prepare_data(PRESETS["word2vec"].config(embed_size=dims), corpus, progress=False, compact=True)
    data.release_words()
    read_seconds = time.perf_counter() - started
    trace.stage("plan")
    run_plan = plan(config, data, epochs=epochs)
    effective = len(run_plan.stream.epoch_corpus(0)[0]) * epochs
    words = len(data.ids)
    trace.stage("training")
    run_dir = Path(os.environ["SCALING_RUNS"]) / f"{Path(corpus).stem}-d{dims}"
    started = time.perf_counter()
    train(run_plan, data, run_dir=run_dir, progress=False, verbose=False)
    train_seconds = time.perf_counter() - started
    return {
        "corpus": Path(corpus).name,
        "words": words,
        "dims": dims,
        "vocab": len(data.vocab),
        "epochs": epochs,
        "effective_words": effective,
        "read_s": read_seconds,
        "train_s": train_seconds,
        "effective_words_per_s": effective / train_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "memory_stages": trace.stages(),
    }


def child(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=os.environ.copy())
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def tripled(source: Path, out: Path) -> Path:
    """A text8-format corpus of ``source``'s text three times over (plain text, in ``out``)."""
    target = out / f"{source.stem}_x3.txt"
    if target.exists():
        return target
    with zipfile.ZipFile(source) as archive:
        (name,) = archive.namelist()
        text = archive.read(name).strip()
    with open(target, "wb") as stream:
        for _ in range(3):
            stream.write(b" " + text)
    return target


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares ``y = a + b x``: (a, b)."""
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    b = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)
    return mean_y - b * mean_x, b


def plot(points: list[dict], floor: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_size = sorted((p for p in points if p["dims"] == 128), key=lambda p: p["words"])
    by_dims = sorted((p for p in points if p["corpus"].startswith("wiki_text8like.")), key=lambda p: p["dims"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    millions = [p["words"] / 1e6 for p in by_size]
    a, b = fit(millions, [p["train_s"] for p in by_size])
    c, d = fit(millions, [p["peak_rss_mb"] - floor for p in by_size])
    axes[0].plot(millions, [p["train_s"] for p in by_size], "o", color="C0", label="training s (1 epoch)")
    axes[0].plot(millions, [a + b * m for m in millions], "-", color="C0", label=f"{b:.2f} s per M words ({a:+.1f} s)")
    memory = axes[0].twinx()
    memory.plot(millions, [p["peak_rss_mb"] - floor for p in by_size], "s", color="C1", label="MB above import")
    memory.plot(millions, [c + d * m for m in millions], "--", color="C1", label=f"{c:.0f} MB + {d:.1f} MB per M words")
    axes[0].set_xlabel("corpus, million words (128 dimensions)")
    axes[0].set_ylabel("training s")
    memory.set_ylabel("peak MB above TensorFlow's import")
    lines = axes[0].get_legend_handles_labels()
    more = memory.get_legend_handles_labels()
    axes[0].legend(lines[0] + more[0], lines[1] + more[1], fontsize=7, loc="upper left")
    dims = [p["dims"] for p in by_dims]
    e, f = fit(dims, [p["train_s"] for p in by_dims])
    axes[1].plot(dims, [p["train_s"] for p in by_dims], "o", color="C0", label="training s (1 epoch)")
    axes[1].plot(dims, [e + f * x for x in dims], "-", color="C0", label=f"{e:.1f} s + {f:.3f} s per dimension")
    axes[1].set_xlabel(f"dimensions ({by_dims[0]['words'] / 1e6:.1f}M words)")
    axes[1].set_ylabel("training s")
    axes[1].legend(fontsize=7, loc="upper left")
    fig.suptitle("cs20lib's word2vec preset: cost against corpus size and dimensions (2 cores)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(HERE.parent / "runs" / "scaling"))
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--replot", default=None, metavar="JSON", help="draw the plot of a recorded scaling.json")
    parser.add_argument("--worker", nargs=3, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.replot:
        recorded = json.loads(Path(args.replot).read_text())
        target = Path(args.out) / "scaling.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        plot(recorded["points"], recorded["tensorflow_import_mb"], target)
        print(f"written: {target}")
        return 0
    if args.worker:
        if args.worker[0] == "tensorflow-import":
            from memory import import_floor

            print(json.dumps(import_floor()))
        else:
            print(json.dumps(work(args.worker[0], int(args.worker[1]), float(args.worker[2]))))
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ["SCALING_RUNS"] = str(out / "runs")
    floor = child("--worker", "tensorflow-import", "0", "0")["peak_rss_mb"]
    print(f"TensorFlow's import alone: {floor:,.0f} MB", flush=True)
    wiki = SHARED / "wiki_text8like.zip"
    runs = [(SHARED / "text8_head.zip", 128), (wiki, 128), (tripled(wiki, out), 128), (wiki, 64), (wiki, 300)]
    points = []
    for corpus, dims in runs:
        point = child("--worker", str(corpus), str(dims), str(args.epochs))
        points.append(point)
        print(
            f"{point['corpus']:<24} {point['words'] / 1e6:6.1f}M words  {dims:4d} dims  "
            f"train {point['train_s']:7.1f} s  "
            f"{point['effective_words_per_s']:>11,.0f} words/s  peak {point['peak_rss_mb']:,.0f} MB "
            f"(import + {point['peak_rss_mb'] - floor:,.0f})",
            flush=True,
        )
    by_size = sorted((p for p in points if p["dims"] == 128), key=lambda p: p["words"])
    a, b = fit([p["words"] / 1e6 for p in by_size], [p["train_s"] for p in by_size])
    c, d = fit([p["words"] / 1e6 for p in by_size], [p["peak_rss_mb"] - floor for p in by_size])
    print(f"fit: training s = {a:.1f} + {b:.2f} per million words; MB above import = {c:.0f} + {d:.1f} per million")
    (out / "scaling.json").write_text(
        json.dumps(
            {
                "epochs": args.epochs,
                "tensorflow_import_mb": floor,
                "points": points,
                "fit": {
                    "train_s": {"intercept": a, "per_million_words": b},
                    "mb_above_import": {"intercept": c, "per_million_words": d},
                },
            },
            indent=2,
        )
    )
    plot(points, floor, out / "scaling.png")
    print(f"written: {out / 'scaling.json'}, {out / 'scaling.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
