"""The command line end to end: train on the toy corpus and on text8_head, sub-commands, bad input."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

SMALL = ["--vocab-size", "300", "--embed-size", "16", "--batch-size", "32", "--num-sampled", "8", "--skip-step", "200", "--tsne-words", "60", "--num-visualize", "100", "--quiet"]


def cli(*args, cwd, expect=0):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "cs20lib", *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == expect, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def run_dirs(root):
    return sorted(path for path in root.iterdir() if path.is_dir())


def check_run_dir(run_dir, model):
    assert json.loads((run_dir / "config.json").read_text())["model"] == model
    assert (run_dir / "vocab.json").exists() and (run_dir / "tsne.png").stat().st_size > 10_000
    assert list((run_dir / "checkpoints").iterdir()) and list((run_dir / "train").glob("events.out.tfevents.*"))
    assert {"projector_config.pbtxt", "metadata.tsv", "checkpoint"} <= {p.name for p in (run_dir / "projector").iterdir()}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0 <= metrics["analogies"]["accuracy"] <= 1
    return metrics


@pytest.mark.parametrize("model", ["tf2", "tf1"])
def test_train_on_the_toy_corpus(tmp_path, model):
    result = cli("train", "--corpus", "toy", "--model", model, "--steps", "400", *SMALL, "--runs-root", tmp_path / "runs", cwd=tmp_path)
    (run_dir,) = run_dirs(tmp_path / "runs")
    assert run_dir.name.startswith(f"{model}-toy-v300-d16-w1-nce8-lr1-b32-s0-")
    metrics = check_run_dir(run_dir, model)
    assert metrics["analogies"]["considered"] == 312 and "wordsim" not in metrics  # the toy corpus's own analogies
    out = result.stdout
    assert "Average loss at step 199" in out and "Average loss at step 399" in out
    assert "nearest neighbours (cosine):" in out and "king:" in out
    assert f"tensorboard --logdir {run_dir}" in out.replace(str(tmp_path / "runs"), str(run_dir.parent))

    # the sub-commands work on the finished run
    assert "analogies (3CosAdd" in cli("evaluate", run_dir, cwd=tmp_path).stdout
    assert "projector files in" in cli("project", run_dir, "--num-visualize", "40", cwd=tmp_path).stdout
    assert (run_dir / "projector" / "metadata.tsv").read_text().count("\n") == 40
    cli("tsne", run_dir, "--tsne-words", "30", "--output", tmp_path / "small.png", cwd=tmp_path)
    assert (tmp_path / "small.png").exists()
    assert cli("neighbours", run_dir, "queen", "-k", "3", cwd=tmp_path).stdout.startswith("queen: ")

    # running again resumes the finished run instead of starting over
    again = cli("train", "--corpus", "toy", "--model", model, "--steps", "600", *SMALL, "--runs-root", tmp_path / "runs", cwd=tmp_path)
    assert run_dirs(tmp_path / "runs") == [run_dir]
    assert "Average loss at step 599" in again.stdout and "Average loss at step 199" not in again.stdout


def test_train_on_text8_head(tmp_path, text8_head):
    result = cli("train", "--corpus", text8_head, "--max-words", "300000", "--steps", "300", "--vocab-size", "5000",
                 "--skip-step", "100", "--tsne-words", "50", "--num-visualize", "200", "--quiet", "--runs-root", tmp_path, cwd=tmp_path)
    (run_dir,) = run_dirs(tmp_path)
    assert run_dir.name.startswith("tf2-text8_head-300000w-v5000-")
    metrics = check_run_dir(run_dir, "tf2")
    assert metrics["analogies"]["considered"] > 1000 and metrics["wordsim"]["pairs"] > 100  # Google set and WordSim-353
    assert "corpus: text8_head, 300,000 words" in result.stdout and "WordSim-353" in result.stdout


def test_epochs_flag_sets_the_steps(tmp_path):
    from cs20lib.skipgram import SkipGramStream
    from cs20lib.toy_corpus import toy_words
    from cs20lib.vocab import Vocabulary

    words = toy_words()
    pairs = SkipGramStream(Vocabulary.build(words, 300).encode(words), 32, 1).pairs_per_epoch()
    result = cli("train", "--corpus", "toy", "--epochs", "0.5", *SMALL, "--runs-root", tmp_path, cwd=tmp_path)
    assert f"for {round(0.5 * pairs / 32):,} steps of 32 pairs" in result.stdout


def test_bad_inputs_give_clear_errors(tmp_path):
    missing = cli("evaluate", tmp_path / "nowhere", cwd=tmp_path, expect=2)
    assert "is not a run directory" in missing.stderr and "Traceback" not in missing.stderr
    cli("train", "--corpus", "toy", "--steps", "200", *SMALL, "--run-dir", tmp_path / "run", cwd=tmp_path)
    unknown = cli("neighbours", tmp_path / "run", "zyzzyva", cwd=tmp_path, expect=2)
    assert "'zyzzyva' is not in the vocabulary" in unknown.stderr and "Traceback" not in unknown.stderr
    mismatch = cli("train", "--corpus", "toy", "--steps", "200", *SMALL, "--embed-size", "32", "--run-dir", tmp_path / "run", cwd=tmp_path, expect=2)
    assert "embed_size: checkpoint has 16, this run has 32" in mismatch.stderr
    bad_file = tmp_path / "bad.txt"
    bad_file.write_text("Some Text, with capitals.")
    bad = cli("train", "--corpus", bad_file, "--steps", "10", cwd=tmp_path, expect=2)
    assert "outside text8's alphabet" in bad.stderr
    no_file = cli("train", "--corpus", tmp_path / "absent.zip", "--steps", "10", cwd=tmp_path, expect=2)
    assert "does not exist" in no_file.stderr
    tf1_negative = cli("train", "--corpus", "toy", "--model", "tf1", "--loss", "negative", "--steps", "10", cwd=tmp_path, expect=2)
    assert "graph model" in tf1_negative.stderr


def test_help_documents_every_flag(tmp_path):
    from cs20lib.__main__ import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) == {"train", "evaluate", "project", "tsne", "neighbours", "stats"}
    for name, sub in commands.items():
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
    text = cli("train", "--help", cwd=tmp_path).stdout
    for flag in ("--corpus", "--steps", "--loss", "--sample", "--run-dir", "--epochs", "--model"):
        assert flag in text
