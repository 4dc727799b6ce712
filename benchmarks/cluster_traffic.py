"""What a step of the parameter-server strategy moves over the network, measured on a local cluster.

Run:  python benchmarks/cluster_traffic.py [--corpus PATH] [--steps 60] [--workers 2] [--ps 2] [--out DIR]

Trains the word2vec preset's settings (window batches, 5 noise words, 128 dimensions) with
``cs20lib.distributed.ParameterServerRunner`` on a :class:`cs20lib.cluster.LocalCluster` on 127.0.0.1, and
reads, before and after ``--steps`` steps, the byte counters the kernel keeps for every TCP connection that a
parameter server's process holds (``ss -tinp``: bytes_received, bytes_sent; the connections the others opened to
its port and the ones it opened itself, since TensorFlow's receiver fetches a tensor from its sender). Prints the
bytes each step moved in and out of each parameter server beside what the step's arithmetic predicts: every row a worker
reads (its gathers, padding columns included) crosses the network from a parameter server, and every row it
updates (its scatters' values) crosses back; a row is ``dims`` float32s. Writes ``cluster_traffic.json``.

``--project JSON`` turns a recorded measurement into the throughput a real cluster could reach, on paper:
every center word moves the measured bytes out of and into the parameter servers, a link carries
``--link-gbps`` each way, so a parameter server serves at most ``link / bytes per word`` words per second, and
so does a worker's link. The busiest server bounds the cluster: with its share s of the lookups, the cluster
reaches at most ``link / (s x bytes per word)``, and its N workers ``N x link / bytes per word``. Lookups follow
Zipf's law (s = 1 over the frequency ranks). With consecutive blocks of rows (``FixedShardsPartitioner``,
TF1's ``div``: what cs20lib uses) the most frequent words all sit on ps:0; with rows round-robin by rank
(``mod``) ps:0 still holds the most frequent word, 1/H(V) of all lookups on its own.
The measured share on the local cluster is printed beside that model's for the same vocabulary.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("CS20_SHARED_DATA", HERE.parent.parent / "shared" / "data"))
# errors too: leaving the cluster before the process ends makes TensorFlow log that it cannot reach the
# tasks to remove its functions from them, which says nothing about the traffic
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def process_bytes(pid: int) -> tuple[int, int]:
    """(received, sent) bytes over every established TCP connection that process ``pid`` holds."""
    out = subprocess.run(["ss", "-tinpH", "state", "established"], capture_output=True, text=True, check=True).stdout
    received = sent = 0
    owner = None
    for line in out.splitlines():
        if not line.startswith((" ", "\t")):  # a socket's line; its counters follow on the next line
            owner = re.search(r"pid=(\d+),", line)
            continue
        if owner is not None and int(owner[1]) == pid:
            received += sum(int(value) for value in re.findall(r"bytes_received:(\d+)", line))
            sent += sum(int(value) for value in re.findall(r"bytes_sent:(\d+)", line))
    return received, sent


def harmonic(n: float) -> float:
    """H(n) = 1 + 1/2 + ... + 1/n, by its asymptotic expansion (exact enough for n >= 10)."""
    import math

    return math.log(n) + 0.5772156649 + 1 / (2 * n) - 1 / (12 * n * n)


def zipf_share(vocab: int, servers: int) -> float:
    """The share of a Zipf (s = 1) corpus's tokens whose rank is among the first vocab/servers: ps:0's load
    when consecutive blocks of a frequency-sorted vocabulary go to the servers in order."""
    return harmonic(vocab / servers) / harmonic(vocab)


def mod_share(vocab: int, servers: int) -> float:
    """ps:0's share when rows go round-robin by rank (``mod``): ranks 1, 1 + M, 1 + 2M, ... ; the most frequent
    word alone is 1/H(V) of the lookups, so no number of servers spreads the load below that."""
    return sum(1 / (1 + j * servers) for j in range(-(-vocab // servers))) / harmonic(vocab)


def project(recorded: dict, link_gbps: float, words: float, vocab: int, epochs: int, keep: float) -> str:
    """The throughput table on paper, from one recorded measurement (see the module's docstring)."""
    per_word = max(recorded["measured_out_per_step"], recorded["measured_in_per_step"]) / recorded["batch"]
    link = link_gbps * 1e9 / 8  # bytes per second, each way
    per_link = link / per_word
    effective = words * epochs * keep
    measured_share = max(p["out_per_step"] for p in recorded["per_ps"]) / sum(
        p["out_per_step"] for p in recorded["per_ps"]
    )
    lines = [
        f"measured: {recorded['measured_out_per_step'] / recorded['batch']:,.0f} B out of and "
        f"{recorded['measured_in_per_step'] / recorded['batch']:,.0f} B into the parameter servers per center word "
        f"({recorded['dims']} dimensions, float32); ps:0's share {measured_share:.1%} with {recorded['ps']} servers "
        f"and {recorded['vocab']:,} words (Zipf model: {zipf_share(recorded['vocab'], recorded['ps']):.1%})",
        f"projected: one {link_gbps:g} Gb/s link carries {per_link:,.0f} center words/s; "
        f"{words:,.0f} words x {epochs} epochs x {keep:.3f} kept by subsampling = {effective:,.0f} center words",
        "",
        f"{'':>11} {'blocks (div), as cs20lib':>33} {'round-robin (mod)':>33}",
        f"{'workers':>7} {'ps':>3} {'ps:0 share':>11} {'words/s':>12} {'hours':>8} "
        f"{'ps:0 share':>11} {'words/s':>12} {'hours':>8}",
    ]
    for workers, servers in [(1, 1), (2, 2), (4, 4), (8, 8), (16, 16), (32, 32), (64, 64), (16, 4)]:
        row = f"{workers:>7} {servers:>3}"
        for share in (zipf_share(vocab, servers), mod_share(vocab, servers)):
            rate = min(workers * per_link, per_link / share)
            row += f" {share:>11.1%} {rate:>12,.0f} {effective / rate / 3600:>8.1f}"
        lines.append(row)
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(SHARED / "text8_head.zip"))
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ps", type=int, default=2)
    parser.add_argument("--out", default=str(HERE.parent / "runs" / "cluster_traffic"))
    parser.add_argument("--project", default=None, metavar="JSON", help="project a recorded measurement; no run")
    parser.add_argument("--link-gbps", type=float, default=10.0)
    parser.add_argument("--corpus-words", type=float, default=1e9)
    parser.add_argument("--vocab", type=int, default=1_000_000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument(
        "--keep", type=float, default=None, help="share of words subsampling keeps (default: the recorded benchmark's)"
    )
    args = parser.parse_args(argv)
    if args.project:
        keep = args.keep
        if keep is None:
            from cs20lib.course import recorded_result

            bench = recorded_result("vs_gensim-default-wiki_text8like")
            ours = next(r for r in bench["results"] if r["system"] == "cs20lib-tf2")
            keep = ours["effective_words"] / (ours["words"] * bench["settings"]["epochs"])
        recorded = json.loads(Path(args.project).read_text())
        print(project(recorded, args.link_gbps, args.corpus_words, args.vocab, args.epochs, keep))
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from cs20lib.tf_logging import import_tensorflow

    import_tensorflow()  # TensorFlow's C++ start-up lines held back, as the command line does
    from cs20lib.cluster import LocalCluster
    from cs20lib.config import PRESETS
    from cs20lib.distributed import ParameterServerRunner
    from cs20lib.experiment import plan, prepare_data
    from cs20lib.training import Trainer

    # one checkpoint inside the measured steps (at its end): the coordinator reads both tables from the
    # parameter servers for it; its bytes are counted and taken out of the per-step figure
    config = PRESETS["word2vec"].config(skip_step=args.warmup + args.steps, num_train_steps=args.warmup + args.steps)
    data, config = prepare_data(config, args.corpus, progress=False, compact=True)
    run_plan = plan(config, data)
    with LocalCluster(args.workers, args.ps) as cluster:
        runner = ParameterServerRunner(cluster.resolver(), args.ps)
        run_dir = out / f"run-{int(time.time())}"
        trainer = Trainer(config, data.vocab, data.ids, run_dir, plan=run_plan, runner=runner, verbose=False)
        trainer.train(until_step=args.warmup)  # traced, connected, first checkpoint written
        pids = [cluster.processes["ps", index].pid for index in range(args.ps)]
        before = [process_bytes(pid) for pid in pids]
        started = time.perf_counter()
        trainer.train(until_step=args.warmup + args.steps)
        seconds = time.perf_counter() - started
        after = [process_bytes(pid) for pid in pids]
        trainer.close()  # its coordinator's channels, before the tasks end
    steps = args.steps
    dims, batch, width, noise = config.embed_size, config.batch_size, 2 * config.skip_window, config.negative
    rows = batch * (width + 1 + noise)  # gathered: the window columns (padding included) and the targets
    predicted = rows * dims * 4
    per_ps = [
        {"ps": index, "in_per_step": (a[0] - b[0]) / steps, "out_per_step": (a[1] - b[1]) / steps}
        for index, (b, a) in enumerate(zip(before, after))
    ]
    checkpoint_bytes = 2 * len(data.vocab) * dims * 4  # the input and output tables, read once for the save
    total_in = sum(p["in_per_step"] for p in per_ps)
    total_out = sum(p["out_per_step"] for p in per_ps) - checkpoint_bytes / steps
    result = {
        "corpus": Path(args.corpus).name,
        "workers": args.workers,
        "ps": args.ps,
        "steps": steps,
        "seconds": seconds,
        "steps_per_second": steps / seconds,
        "batch": batch,
        "dims": dims,
        "rows_per_step": rows,
        "predicted_bytes_each_way_per_step": predicted,
        "vocab": len(data.vocab),
        "checkpoint_bytes_removed": checkpoint_bytes,
        "measured_in_per_step": total_in,
        "measured_out_per_step": total_out,
        "per_ps": per_ps,
    }
    print(
        f"{steps} steps of {batch} centers on {args.workers} workers and {args.ps} parameter servers "
        f"in {seconds:.1f} s "
        f"({steps / seconds:.2f} steps/s)"
    )
    print(f"predicted per step: {rows:,} rows x {dims} x 4 B = {predicted / 1e6:.1f} MB read, as much written")
    print(
        f"measured per step:  {total_out / 1e6:.1f} MB out of the parameter servers, {total_in / 1e6:.1f} MB in "
        f"(one checkpoint's {checkpoint_bytes / 1e6:.1f} MB of tables taken out)"
    )
    for p in per_ps:
        print(f"  ps:{p['ps']}: out {p['out_per_step'] / 1e6:.1f} MB, in {p['in_per_step'] / 1e6:.1f} MB per step")
    (out / "cluster_traffic.json").write_text(json.dumps(result, indent=2))
    print(f"written: {out / 'cluster_traffic.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
