"""cs20lib's word2vec beside gensim: speed, memory and quality, measured side by side in one run.

Run:  python benchmarks/vs_gensim.py [--quick] [--config default|lecture] [--corpus PATH] [--out DIR] [--rounds N]
             [--kernel auto|loop|fused|tf] [--fused-update rows|pairs] [--hogwild|--no-hogwild] [--batch-size N]

Each system trains in its own child process, one after the other, on the same corpus with the same
settings, so that each one's peak RSS is its own. The systems alternate over rounds (A B, then B A, ...;
2 rounds by default, 1 with --quick), so that load from anything else on the machine does not fall on one
of them only; each run's line gives the machine's 1-minute load average while it ran. The parent prints
every round, the median training-time ratio to gensim, and a table of medians.

--config default   word2vec's settings: skip-gram, 128 dims, window 5, 5 negatives, min_count 5,
                   subsampling 1e-3, 5 epochs, 2 threads. Systems: cs20lib's TF2 trainer and gensim.
                   The trainer's step is the word2vec preset's unless flags say otherwise: --kernel auto
                   (word2vec's loop as one op of cs20lib.fused_op where it builds, else TensorFlow's ops),
                   --fused-update rows (a row's pairs together, HogBatch), --hogwild (every core; --no-hogwild:
                   one thread, deterministic), batches of 2,048 centers; each run's figures say which step
                   ran ("kernel"). Before the rounds, a process that only imports TensorFlow gives the floor
                   of any TensorFlow program's memory, and each cs20lib run's memory is traced by stage.
--config lecture   the lecture's settings (NCE with 64 samples, window 1, 50,000 words, batch 128,
                   100,000 steps, learning rate 1.0). Systems: cs20lib's graph-mode model, its TF2
                   model, and the closest gensim run (skip-gram, window 1, 64 negatives, 50,000 words,
                   no subsampling, 1 epoch).

Corpus: the verified text8 from the cache when present, else ../shared/data/wiki_text8like.zip (text8's
size and format); --quick uses ../shared/data/text8_head.zip (2.1M words) and finishes in minutes.
Analogy accuracy: Google's set, restrict_vocab=30000, 3CosAdd; WordSim-353: Spearman. Both systems'
vectors are scored by the same code (cs20lib.evaluation; tests/test_evaluation.py checks that it
counts as gensim's evaluate_word_analogies / evaluate_word_pairs do).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = Path(os.environ.get("CS20_SHARED_DATA", REPO.parent / "shared" / "data"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SENTENCE = 10_000  # gensim's Text8Corpus cuts text8 into "sentences" of 10,000 words; so do both here

SETTINGS = {
    "default": dict(
        embed_size=128,
        skip_window=5,
        negatives=5,
        min_count=5,
        vocab_size=None,
        sample=1e-3,
        epochs=5,
        alpha=0.025,
        threads=2,
    ),
    "lecture": dict(
        embed_size=128,
        skip_window=1,
        negatives=64,
        min_count=1,
        vocab_size=50_000,
        sample=0.0,
        epochs=None,
        steps=100_000,
        batch_size=128,
        learning_rate=1.0,
        threads=2,
    ),
}
SYSTEMS = {"default": ["cs20lib-tf2", "gensim"], "lecture": ["cs20lib-tf1", "cs20lib-tf2", "gensim"]}


def default_corpus(quick: bool) -> Path:
    if quick:
        return SHARED / "text8_head.zip"
    from cs20lib.corpus import CorruptArchiveError
    from cs20lib.download import TEXT8, verify_zip
    from cs20lib.files import cache_dir

    cached = cache_dir() / TEXT8.filename
    if cached.exists():
        try:
            verify_zip(cached, TEXT8)
            return cached
        except CorruptArchiveError:
            pass
    return SHARED / "wiki_text8like.zip"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


# -----------------------------------------------------------------------------------------------
# The workers: each runs in its own process and prints one JSON line
# -----------------------------------------------------------------------------------------------


def evaluate_vectors(vectors, vocab) -> dict:
    from cs20lib.evaluation import eval_data_path, evaluate_analogies, evaluate_wordsim

    analogies = evaluate_analogies(vectors, vocab, eval_data_path("questions-words.txt"), restrict_vocab=30_000)
    wordsim = evaluate_wordsim(vectors, vocab, eval_data_path("wordsim353.tsv"))
    return {
        "analogy": analogies["accuracy"],
        "analogy_considered": analogies["considered"],
        "wordsim": wordsim["spearman"],
    }


def work_gensim(corpus: Path, config: str, seed: int) -> dict:
    import numpy as np
    from gensim.models import Word2Vec

    from cs20lib.corpus import read_words
    from cs20lib.vocab import Vocabulary

    s = SETTINGS[config]
    start = time.perf_counter()
    words = read_words(corpus)
    sentences = [words[i : i + SENTENCE] for i in range(0, len(words), SENTENCE)]
    read_seconds = time.perf_counter() - start
    model = Word2Vec(
        vector_size=s["embed_size"],
        window=s["skip_window"],
        negative=s["negatives"],
        min_count=s["min_count"],
        max_final_vocab=s["vocab_size"],
        sample=s["sample"],
        sg=1,
        hs=0,
        workers=s["threads"],
        seed=seed,
        alpha=0.025,
        min_alpha=0.0001,
    )
    start = time.perf_counter()
    model.build_vocab(sentences)
    vocab_seconds = time.perf_counter() - start
    epochs = s["epochs"] or 1
    start = time.perf_counter()
    effective, raw = model.train(sentences, total_examples=model.corpus_count, epochs=epochs)
    train_seconds = time.perf_counter() - start
    # the same scoring code as ours: a Vocabulary in gensim's order (by frequency), UNK row zero
    keys = list(model.wv.index_to_key)
    counts = [int(model.wv.get_vecattr(key, "count")) for key in keys]
    vocab = Vocabulary(["UNK"] + keys, [0] + counts)
    vectors = np.vstack([np.zeros((1, model.wv.vector_size), np.float32), model.wv.vectors])
    return {
        "system": "gensim",
        "words": len(words),
        "vocab": len(keys),
        "read_s": read_seconds,
        "vocab_s": vocab_seconds,
        "train_s": train_seconds,
        "effective_words": int(effective),
        "effective_words_per_s": effective / train_seconds,
        "peak_rss_mb": peak_rss_mb(),
        **evaluate_vectors(vectors, vocab),
    }


def work_cs20lib(
    corpus: Path,
    config: str,
    seed: int,
    model_name: str,
    run_root: Path,
    batch_size: int,
    batching: str,
    kernel: str = "auto",
    hogwild: bool = False,
    fused_update: str = "pairs",
) -> dict:
    import shutil

    from memory import MemoryTrace

    trace = MemoryTrace()
    from cs20lib.tf_logging import import_tensorflow

    import_tensorflow().constant(1.0).numpy()  # TensorFlow's share first, as the floor measures it
    from cs20lib.config import Word2VecConfig
    from cs20lib.experiment import plan, prepare_data, train
    from cs20lib.runs import load_embeddings

    trace.stage("imports (TensorFlow, cs20lib)")
    s = SETTINGS[config]
    start = time.perf_counter()
    if config == "default":
        base = Word2VecConfig(
            vocab_size=None,
            min_count=s["min_count"],
            embed_size=s["embed_size"],
            skip_window=s["skip_window"],
            negative=s["negatives"],
            loss="negative",
            sample=s["sample"],
            keep_unk=False,
            lr_decay="linear",
            init="word2vec",
            batch_size=batch_size,
            learning_rate=s["alpha"] * batch_size,
            seed=seed,
            batching=batching,
            kernel=kernel,
            hogwild=hogwild,
            fused_update=fused_update,
        )
    else:
        base = Word2VecConfig(seed=seed)
    trace.stage("reading the corpus, vocabulary, ids")
    data, cfg = prepare_data(base, corpus, fallback_to_toy=False, progress=False, compact=True)
    data.release_words()  # the run needs the ids from here on, as `python -m cs20lib train` does
    prepare_seconds = time.perf_counter() - start
    trace.stage("the run's plan (epoch 0 subsampled)")
    run_plan = plan(cfg, data, epochs=s["epochs"] if config == "default" else None)
    if config == "default":  # a report and a checkpoint every tenth of the run
        steps = run_plan.config.num_train_steps
        run_plan = dataclasses.replace(run_plan, config=run_plan.config.replace(skip_step=max(1, steps // 10)))
    cfg, stream = run_plan.config, run_plan.stream
    effective_words = len(stream.epoch_corpus(0)[0]) * (s["epochs"] or 1)
    if config == "lecture":  # 100,000 steps of 128 pairs: the words they cover
        effective_words = round(cfg.num_train_steps * cfg.batch_size / (stream.pairs_per_epoch() / len(data.ids)))
    words = len(data.ids)
    run_dir = run_root / f"{model_name}-{config}"
    shutil.rmtree(run_dir, ignore_errors=True)
    trace.stage("training")
    start = time.perf_counter()
    train(run_plan, data, api=model_name.split("-")[1], run_dir=run_dir, progress=False, verbose=False)
    train_seconds = time.perf_counter() - start
    run_plan.release()  # what the command line lets go of before evaluating
    del stream
    data.release()
    trace.stage("evaluation")
    from cs20lib import fused_op

    ran = fused_op.step_kind(cfg) if cfg.loss == "negative" else "tf"
    if ran != "tf":
        ran = f"{ran} {cfg.fused_update}, " + ("Hogwild" if cfg.hogwild else "deterministic")
    return {
        "system": model_name,
        "kernel": ran,
        "threads": training_threads(ran, s["threads"]),
        "words": words,
        "vocab": len(data.vocab) - 1,
        "read_s": prepare_seconds,
        "vocab_s": 0.0,
        "train_s": train_seconds,
        "steps": cfg.num_train_steps,
        "batch_size": cfg.batch_size,
        "effective_words": effective_words,
        "effective_words_per_s": effective_words / train_seconds,
        **evaluate_vectors(load_embeddings(run_dir), data.vocab),
        "peak_rss_mb": peak_rss_mb(),
        "memory_stages": trace.stages(),
    }


#: the TF2 trainer under word2vec's settings: centers per step, each with its whole window, negatives
#: shared within a window; the learning rate is 0.025 per pair (alpha * batch on the batch mean)
WORD2VEC_BATCH = 2048
WORD2VEC_BATCHING = "windows"


# -----------------------------------------------------------------------------------------------
# The parent: runs the workers one after the other and reports
# -----------------------------------------------------------------------------------------------


def run_worker(system: str, corpus: Path, config: str, seed: int, out: Path, extra: list[str]) -> dict:
    """One system's run in a child process; adds the machine's 1-minute load average, sampled every 5 s
    while it ran (``load_avg``), to its figures: the load of anything else running falls on this run."""
    command = [
        sys.executable,
        __file__,
        "--worker",
        system,
        "--corpus",
        str(corpus),
        "--config",
        config,
        "--seed",
        str(seed),
        "--out",
        str(out),
        *extra,
    ]
    print(f"[{time.strftime('%H:%M:%S')}] {system}: training ...", flush=True)
    loads = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        while True:
            try:
                stdout, stderr = child.communicate(timeout=5)
                break
            except subprocess.TimeoutExpired:
                loads.append(os.getloadavg()[0])
    if child.returncode != 0:
        raise SystemExit(f"{system} failed:\n{stdout}\n{stderr}")
    figures = json.loads(stdout.strip().splitlines()[-1])
    figures["load_avg"] = sum(loads) / len(loads) if loads else os.getloadavg()[0]
    print(
        f"[{time.strftime('%H:%M:%S')}] {system}{' (' + figures['kernel'] + ')' if 'kernel' in figures else ''}: "
        f"{figures['train_s']:.0f} s, "
        f"analogy {figures['analogy']:.1%}, WordSim {figures['wordsim']:.3f}, load {figures['load_avg']:.2f}",
        flush=True,
    )
    return figures


def measure_floor(corpus: Path, config: str, seed: int, out: Path) -> dict:
    """The peak RSS of a process that only imports TensorFlow (median of three): the part of a TensorFlow
    program's memory that is TensorFlow's, measured in the same run as the systems."""
    runs = []
    for _ in range(3):
        command = [
            sys.executable,
            __file__,
            "--worker",
            "tensorflow-import",
            "--corpus",
            str(corpus),
            "--out",
            str(out),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    floor = {"peak_rss_mb": median([r["peak_rss_mb"] for r in runs]), "runs": runs}
    print(f"TensorFlow's import alone: peak RSS {floor['peak_rss_mb']:,.0f} MB (median of 3)", flush=True)
    return floor


def floor_lines(results: list[dict], floor: dict) -> str:
    """Each cs20lib system's peak above TensorFlow's import, and where its memory went, stage by stage."""
    lines = [f"TensorFlow's import alone: peak RSS {floor['peak_rss_mb']:,.0f} MB"]
    for r in results:
        if r["system"].startswith("cs20lib"):
            above = r["peak_rss_mb"] - floor["peak_rss_mb"]
            lines.append(f"{r['system']}: peak {r['peak_rss_mb']:,.0f} MB = import + {above:,.0f} MB")
            for stage in r.get("memory_stages", []):
                lines.append(
                    f"  {stage['stage']:<42} from {stage['start_mb']:>7,.0f} MB, peak {stage['peak_mb']:>7,.0f} MB"
                )
    return "\n".join(lines)


def run_rounds(systems: list[str], rounds: int, run) -> list[list[dict]]:
    """``rounds`` rounds of every system, the order turning each round (A B, B A, A B, ...), so that a
    slow spell of the machine does not fall on one system only. Returns each round's results in
    ``systems`` order."""
    table = []
    for number in range(rounds):
        order = systems if number % 2 == 0 else systems[::-1]
        print(f"round {number + 1} of {rounds}: {', '.join(order)}", flush=True)
        done = {system: run(system) for system in order}
        table.append([done[system] for system in systems])
    return table


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def round_lines(table: list[list[dict]]) -> list[str]:
    """A line per round and system (time, quality, load), then the median training-time ratio to gensim."""
    lines = [f"{'round':<6}{'system':<14}{'train s':>9}{'analogy':>9}{'WordSim':>9}{'load':>7}"]
    for number, results in enumerate(table, start=1):
        for r in results:
            lines.append(
                f"{number:<6}{r['system']:<14}{r['train_s']:>9.1f}{r['analogy']:>9.1%}{r['wordsim']:>9.3f}"
                f"{r['load_avg']:>7.2f}"
            )
    systems = [r["system"] for r in table[0]]
    if "gensim" in systems:
        for name in systems:
            if name == "gensim":
                continue
            ratios = [
                next(r for r in results if r["system"] == name)["train_s"]
                / next(r for r in results if r["system"] == "gensim")["train_s"]
                for results in table
            ]
            listed = ", ".join(f"{x:.2f}" for x in ratios)
            lines.append(
                f"{name}/gensim training time: median {median(ratios):.2f} over {len(ratios)} rounds ({listed})"
            )
    return lines


def medians(table: list[list[dict]]) -> list[dict]:
    """Each system's figures, the median over the rounds for every number."""
    merged = []
    for position, first in enumerate(table[0]):
        runs = [results[position] for results in table]
        figures = {}
        for key, value in first.items():
            if key == "memory_stages":  # a list per run: the run with the median peak's
                value = sorted(runs, key=lambda r: r["peak_rss_mb"])[len(runs) // 2].get(key, value)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                middle = median([r[key] for r in runs])
                value = round(middle) if isinstance(value, int) else middle
            figures[key] = value
        merged.append(figures)
    return merged


def training_threads(kernel: str, threads: int) -> int:
    """The threads that train: one in the op's deterministic mode, else the setting's (Hogwild, TF's ops, gensim)."""
    return 1 if kernel.endswith("deterministic") else threads


def report(results: list[dict], config: str, corpus: Path) -> str:
    for r in results:  # gensim counts words after subsampling; so does cs20lib (TrainingPlan's epoch corpus)
        r.setdefault("threads", training_threads(r.get("kernel", ""), SETTINGS[config]["threads"]))
        r.setdefault("effective_words_per_s_per_core", r["effective_words_per_s"] / r["threads"])
    rows = [
        ("training wall s", "train_s", "{:,.1f}"),
        ("vocabulary + reading s", None, "{:,.1f}"),
        ("training threads", "threads", "{:d}"),
        ("effective words/s", "effective_words_per_s", "{:,.0f}"),
        ("  per core", "effective_words_per_s_per_core", "{:,.0f}"),
        ("peak RSS MB", "peak_rss_mb", "{:,.0f}"),
        ("analogy (30k)", "analogy", "{:.1%}"),
        ("WordSim-353 Spearman", "wordsim", "{:.3f}"),
    ]
    names = [r["system"] for r in results]
    reference = next((r for r in results if r["system"] == "gensim"), None)
    width = 16
    lines = [f"config={config}, corpus={corpus.name}, {results[0]['words']:,} words", ""]
    ratio_names = [n for n in names if n != "gensim"] if reference is not None else []
    lines.append(
        f"{'':<24}"
        + "".join(f"{n:>{width}}" for n in names)
        + "".join(f"{n + '/gensim':>{width + 6}}" for n in ratio_names)
    )
    for label, key, fmt in rows:
        values = [r["read_s"] + r["vocab_s"] if key is None else r[key] for r in results]
        ratios = []
        if reference is not None:
            ref = reference["read_s"] + reference["vocab_s"] if key is None else reference[key]
            ratios = [v / ref if ref else float("nan") for v, r in zip(values, results) if r["system"] != "gensim"]
        lines.append(
            f"{label:<24}"
            + "".join(f"{fmt.format(v):>{width}}" for v in values)
            + "".join(f"{x:>{width + 6}.2f}" for x in ratios)
        )
    return "\n".join(lines)


def plot(results: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("train_s", "training wall s"),
        ("peak_rss_mb", "peak RSS MB"),
        ("analogy", "analogy accuracy"),
        ("wordsim", "WordSim-353 Spearman"),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2))
    for ax, (key, label) in zip(axes, panels):
        ax.bar([r["system"] for r in results], [r[key] for r in results], color=["C0", "C1", "C2"][: len(results)])
        ax.set_title(label)
        ax.tick_params(axis="x", labelrotation=20)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", choices=sorted(SETTINGS), default="default")
    parser.add_argument(
        "--quick", action="store_true", help="text8_head.zip (2.1M words) instead of a text8-size corpus"
    )
    parser.add_argument("--corpus", default=None, help="a text8-format corpus (default: see above)")
    parser.add_argument("--systems", default=None, help="comma-separated subset of the config's systems")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--out", default=str(REPO / "runs" / "benchmarks"), help="where JSON, plot and run directories go"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=WORD2VEC_BATCH,
        help="cs20lib's batch under word2vec's settings (default: %(default)s)",
    )
    parser.add_argument(
        "--batching",
        choices=["pairs", "windows"],
        default=WORD2VEC_BATCHING,
        help="cs20lib's batching under word2vec's settings (default: %(default)s)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="rounds of every system, the order alternating (default: 2, with --quick 1)",
    )
    parser.add_argument(
        "--kernel",
        choices=["auto", "loop", "fused", "tf"],
        default="auto",
        help="cs20lib's negative-sampling step (default: %(default)s; see cs20lib.fused_op)",
    )
    parser.add_argument(
        "--hogwild",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the fused op's Hogwild mode (rows split over the threads, no locks; the word2vec preset's), or "
        "--no-hogwild: one thread, deterministic",
    )
    parser.add_argument(
        "--fused-update",
        choices=["pairs", "rows"],
        default="rows",
        help="the fused op's arithmetic: each pair's step at once, or a row's pairs together (HogBatch)",
    )
    parser.add_argument(
        "--report", default=None, metavar="JSON", help="print the tables of a recorded run's JSON and stop"
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.report:
        recorded = json.loads(Path(args.report).read_text())
        text = "\n".join(round_lines(recorded["rounds"])) + "\n\nmedians over the rounds:\n"
        text += report(recorded["results"], recorded["config"], Path(recorded["corpus"]))
        print(text + "\n" + floor_lines(recorded["results"], recorded["tensorflow_import"]))
        return 0
    corpus = Path(args.corpus) if args.corpus else default_corpus(args.quick)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    if args.worker:
        if args.worker == "tensorflow-import":
            from memory import import_floor

            figures = import_floor()
        elif args.worker == "gensim":
            figures = work_gensim(corpus, args.config, args.seed)
        else:
            figures = work_cs20lib(
                corpus,
                args.config,
                args.seed,
                args.worker,
                out,
                args.batch_size,
                args.batching,
                args.kernel,
                args.hogwild,
                args.fused_update,
            )
        print(json.dumps(figures))
        return 0

    systems = args.systems.split(",") if args.systems else SYSTEMS[args.config]
    print(
        f"corpus {corpus}; config {args.config}: {json.dumps(SETTINGS[args.config])}; "
        f"cs20lib batch {args.batch_size} {args.batching}, kernel {args.kernel}"
        f"{', Hogwild' if args.hogwild else ''}"
    )
    extra = ["--batch-size", str(args.batch_size), "--batching", args.batching, "--kernel", args.kernel]
    extra += ["--hogwild" if args.hogwild else "--no-hogwild"]
    extra += ["--fused-update", args.fused_update]
    rounds = args.rounds if args.rounds is not None else (1 if args.quick else 2)
    if rounds < 1:
        raise SystemExit("--rounds must be at least 1")
    floor = measure_floor(corpus, args.config, args.seed, out)
    table = run_rounds(systems, rounds, lambda system: run_worker(system, corpus, args.config, args.seed, out, extra))
    results = medians(table)
    text = "\n".join(round_lines(table)) + "\n\nmedians over the rounds:\n" + report(results, args.config, corpus)
    text += "\n" + floor_lines(results, floor)
    print("\n" + text)
    stem = f"vs_gensim-{args.config}-{corpus.name.split('.')[0]}"
    (out / f"{stem}.json").write_text(
        json.dumps(
            {
                "config": args.config,
                "corpus": str(corpus),
                "settings": SETTINGS[args.config],
                "rounds": table,
                "results": results,
                "tensorflow_import": floor,
            },
            indent=2,
        )
    )
    if any(r["system"] == "gensim" for r in results):
        plot(results, out / f"{stem}.png", f"{args.config} settings on {corpus.name}")
    print(f"\nwritten: {out / (stem + '.json')}, {out / (stem + '.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
