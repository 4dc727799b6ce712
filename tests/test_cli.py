"""The command line: training end to end, presets, the sub-commands, clean output, and one clear line
(exit status 2, no traceback) for every bad input or environment failure, before anything is trained."""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest
from conftest import REPO

from cs20lib.__main__ import build_parser, config_from, main
from cs20lib.config import PRESETS, Word2VecConfig
from cs20lib.tf_logging import HARMLESS

SMALL = (
    "--preset lecture --vocab-size 300 --embed-size 16 --batch-size 32 --num-sampled 8 --skip-step 200"
    " --tsne-words 60 --num-visualize 100 --quiet"
).split()


def cli(*args, cwd, expect=0, env=None, timeout=600):
    """Run ``python -m cs20lib`` in a subprocess, as a user would."""
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    command = [sys.executable, "-m", "cs20lib", *map(str, args)]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == expect, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def run(capsys, *args):
    """``main()`` in this process: (exit status, stdout, stderr)."""
    code = main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, *args, match):
    code, out, err = run(capsys, *args)
    assert code == 2, out + err
    assert err.startswith("error: ") and match in err and "Traceback" not in err, err
    assert "training the" not in out  # refused before any training
    return err


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    result = cli("train", "--corpus", "toy", "--steps", "400", *SMALL, "--runs-root", root, cwd=root)
    (run_dir,) = [path for path in root.iterdir() if path.is_dir()]
    return run_dir, result


# ----------------------------------------------------------------------------------------------
# Training end to end
# ----------------------------------------------------------------------------------------------
def test_train_writes_a_complete_run_directory(toy_run):
    run_dir, result = toy_run
    assert run_dir.name.startswith("tf2-toy-v300-d16-w1-nce8-lr1-b32-s0-")
    assert json.loads((run_dir / "config.json").read_text())["api"] == "tf2"
    assert (run_dir / "vocab.json").exists() and (run_dir / "tsne.png").stat().st_size > 10_000
    assert [p.name for p in sorted((run_dir / "checkpoints").glob("ckpt-*.index"))] == [
        "ckpt-200.index",
        "ckpt-400.index",
    ]
    assert list((run_dir / "train").glob("events.out.tfevents.*"))
    assert {"projector_config.pbtxt", "metadata.tsv", "checkpoint"} <= {
        p.name for p in (run_dir / "projector").iterdir()
    }
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["analogies"]["considered"] == 312 and "wordsim" not in metrics  # the toy corpus's own questions
    assert metrics["analogies"]["correct"] == round(metrics["analogies"]["accuracy"] * 312)
    out = result.stdout
    assert "Average loss at step 199" in out and "Average loss at step 399" in out
    assert "nearest neighbours (cosine):" in out and "king:" in out
    assert f"tensorboard --logdir {run_dir}" in out
    assert "This was the lecture preset" in out and "--preset word2vec" in out


@pytest.mark.parametrize(
    "command, check",
    [
        (
            ["evaluate"],
            lambda run_dir, out: out.startswith("analogies (3CosAdd") and (run_dir / "metrics.json").exists(),
        ),
        (
            ["project", "--num-visualize", "40"],
            lambda run_dir, out: (run_dir / "projector" / "metadata.tsv").read_text().count("\n") == 40,
        ),
        (["neighbours", "queen", "-k", "3"], lambda run_dir, out: out.startswith("queen: ") and out.count(",") == 2),
    ],
)
def test_sub_commands_on_a_trained_run(toy_run, capsys, command, check):
    run_dir, _ = toy_run
    code, out, err = run(capsys, command[0], run_dir, *command[1:])
    assert code == 0 and check(run_dir, out), out + err


def test_tsne_sub_command(toy_run, tmp_path, capsys):
    run_dir, _ = toy_run
    code, out, _ = run(capsys, "tsne", run_dir, "--tsne-words", "30", "--output", tmp_path / "small.png")
    assert code == 0 and (tmp_path / "small.png").stat().st_size > 5_000 and "t-SNE plot written" in out


def test_running_again_resumes_instead_of_starting_over(toy_run):
    run_dir, _ = toy_run
    again = cli("train", "--corpus", "toy", "--steps", "600", *SMALL, "--runs-root", run_dir.parent, cwd=run_dir.parent)
    assert [p for p in run_dir.parent.iterdir() if p.is_dir()] == [run_dir]
    assert "resuming from" in again.stdout and "ckpt-400" in again.stdout
    assert "Average loss at step 599" in again.stdout and "Average loss at step 199" not in again.stdout


def test_tf1_model_trains_and_resumes(tmp_path):
    first = cli(
        "train", "--corpus", "toy", "--api", "tf1", "--steps", "200", *SMALL, "--runs-root", tmp_path, cwd=tmp_path
    )
    (run_dir,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    assert run_dir.name.startswith("tf1-toy-") and "This was the lecture preset" in first.stdout
    assert json.loads((run_dir / "config.json").read_text())["api"] == "tf1" and (run_dir / "vocab.json").exists()
    again = cli(
        "train", "--corpus", "toy", "--api", "tf1", "--steps", "400", *SMALL, "--runs-root", tmp_path, cwd=tmp_path
    )
    assert "resuming from step 200" in again.stdout and "Average loss at step 399" in again.stdout


def test_train_on_text8_head_with_both_evaluation_sets(tmp_path, text8_head):
    result = cli(
        "train",
        "--corpus",
        text8_head,
        "--preset",
        "lecture",
        "--max-words",
        "300000",
        "--steps",
        "300",
        "--vocab-size",
        "5000",
        "--skip-step",
        "100",
        "--tsne-words",
        "50",
        "--num-visualize",
        "200",
        "--quiet",
        "--runs-root",
        tmp_path,
        cwd=tmp_path,
    )
    (run_dir,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    assert run_dir.name.startswith("tf2-text8_head-300000w-v5000-")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["analogies"]["considered"] > 1000 and metrics["wordsim"]["pairs"] > 100  # Google set, WordSim-353
    assert "corpus: text8_head, 300,000 words" in result.stdout and "WordSim-353: Spearman" in result.stdout


def test_the_word2vec_preset_trains_its_epochs_on_windows(tmp_path):
    result = cli("train", "--corpus", "toy", "--tsne-words", "50", "--quiet", "--runs-root", tmp_path, cwd=tmp_path)
    (run_dir,) = [path for path in tmp_path.iterdir() if path.is_dir()]
    config = json.loads((run_dir / "config.json").read_text())
    preset = PRESETS["word2vec"]
    assert {name: config[name] for name in preset.settings} == {**preset.settings, "skip_step": config["skip_step"]}
    # the plan rounds the steps up to whole batches: on the toy corpus that is a few hundredths of an epoch
    (epochs,) = re.findall(r"\(([\d.]+) epochs", result.stdout)
    assert preset.epochs <= float(epochs) < preset.epochs + 0.05
    assert "This was the word2vec preset" in result.stdout and "--preset lecture" in result.stdout


# ----------------------------------------------------------------------------------------------
# Presets and flags
# ----------------------------------------------------------------------------------------------
def parse(*args):
    return build_parser().parse_args(["train", *args])


def test_the_lecture_preset_is_exactly_the_lectures_settings():
    assert config_from(parse("--preset", "lecture")) == Word2VecConfig()
    assert Word2VecConfig().num_train_steps == 100_000 and Word2VecConfig().batch_size == 128


def test_the_default_preset_is_word2vecs_and_flags_override_it():
    assert config_from(parse()) == PRESETS["word2vec"].config()
    overridden = config_from(parse("--embed-size", "64", "--sample", "0", "--keep-unk"))
    assert (overridden.embed_size, overridden.sample, overridden.keep_unk) == (64, 0.0, True)
    assert overridden.negative == 5 and overridden.batching == "windows"  # the rest is the preset's
    assert config_from(parse("--api", "tf1")) == Word2VecConfig()  # the graph model gets the lecture's


def test_epochs_flag_sets_the_steps(tmp_path, capsys):
    from cs20lib.experiment import plan, prepare_data

    data, config = prepare_data(config_from(parse(*SMALL)), "toy")
    steps = round(0.5 * plan(config, data).steps_per_epoch)
    code, out, _ = run(capsys, "train", "--corpus", "toy", "--epochs", "0.5", *SMALL, "--runs-root", tmp_path)
    assert code == 0 and f"for {steps:,} steps of 32 pairs (0.50 epochs" in out


def test_help_documents_every_flag_of_every_command(tmp_path):
    help_text = cli("--help", cwd=tmp_path).stdout
    for command in ("train", "evaluate", "project", "tsne", "neighbours", "stats"):
        assert command in help_text
        text = cli(command, "--help", cwd=tmp_path).stdout
        flags = [word.rstrip(",") for word in text.split() if word.startswith("--")]
        assert flags, command
    train_help = " ".join(cli("train", "--help", cwd=tmp_path).stdout.split())
    for needle in (
        "--preset {lecture,word2vec}",
        "lecture: the lecture's run",
        "word2vec: word2vec's recipe",
        "--verbose" if False else "--run-dir",
        "--epochs",
        "--negative",
        "--num-sampled",
    ):
        assert needle in train_help, needle


# ----------------------------------------------------------------------------------------------
# What a student reads
# ----------------------------------------------------------------------------------------------
def test_output_off_a_terminal_has_no_tensorflow_log_lines_and_no_progress_bar(tmp_path):
    result = cli("--help", cwd=tmp_path)
    assert result.stderr == ""
    trained = cli(
        "train",
        "--corpus",
        "toy",
        "--preset",
        "lecture",
        "--steps",
        "400",
        "--skip-step",
        "200",
        "--vocab-size",
        "300",
        "--embed-size",
        "16",
        "--tsne-words",
        "30",
        "--runs-root",
        tmp_path,
        cwd=tmp_path,
    )
    for stream in (trained.stdout, trained.stderr):
        assert "\r" not in stream  # no progress-bar frames in a log
        assert not [
            line for line in stream.splitlines() if HARMLESS.search(line) or line[:5] in ("I0000", "W0000", "E0000")
        ]
    reports = [line for line in trained.stdout.splitlines() if line.startswith("Average loss at step")]
    assert len(reports) == 2 and all("steps/s" in line and "left]" in line for line in reports)


def test_offline_fallback_is_a_plain_message(tmp_path):
    result = cli("stats", "--preset", "lecture", cwd=tmp_path, env={"CS20_CACHE_DIR": str(tmp_path / "cache")})
    assert "toy corpus is used instead" in result.stderr and "Warning" not in result.stderr
    assert result.stderr.count("\n") <= 2 and "corpus      toy" in result.stdout


# ----------------------------------------------------------------------------------------------
# Bad input: refused before training, one clear line
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "flags, match",
    [
        (["--epochs", "0"], "--epochs must be a finite number > 0"),
        (["--epochs", "-1"], "--epochs must be a finite number > 0"),
        (["--epochs", "inf"], "--epochs must be a finite number > 0"),
        (["--epochs", "nan"], "--epochs must be a finite number > 0"),
        (["--epochs", "1e-9"], "is less than one step"),
        (["--steps", "10", "--epochs", "1"], "not both"),
        (["--steps", "0"], "num_train_steps must be an integer >= 1"),
        (["--learning-rate", "inf"], "learning_rate must be a finite number > 0"),
        (["--learning-rate", "nan"], "learning_rate must be a finite number > 0"),
        (["--seed", "-1"], "seed must be an integer from 0 to 2,147,483,647"),
        (["--seed", str(2**31)], "seed must be an integer from 0 to 2,147,483,647"),
        (["--num-visualize", "0"], "--num-visualize must be an integer >= 1"),
        (["--tsne-words", "-1"], "--tsne-words must be an integer >= 0"),
        (["--restrict-vocab", "0"], "--restrict-vocab must be an integer >= 1"),
        (["--vocab-size", "3", "--preset", "lecture"], "a t-SNE plot needs at least 4"),
        (["--vocab-size", "0", "--min-count", "10000000", "--drop-unk"], "nothing to train on"),
        (["--wordsim", "missing.tsv"], "--wordsim missing.tsv: no such file"),
        (["--api", "tf1", "--loss", "negative"], "graph model, which trains with NCE"),
    ],
)
def test_bad_training_flags_are_refused_before_training(tmp_path, capsys, monkeypatch, flags, match):
    monkeypatch.chdir(tmp_path)
    refused(capsys, "train", "--corpus", "toy", *flags, "--runs-root", tmp_path, match=match)
    assert not [path for path in tmp_path.iterdir() if path.is_dir()]  # no run directory was made


def test_an_evaluation_file_that_is_a_folder_is_refused(tmp_path, capsys):
    refused(capsys, "train", "--corpus", "toy", "--analogies", tmp_path, match="a folder")


def test_a_corpus_of_few_distinct_words_stops_instead_of_spinning(tmp_path):
    corpus = tmp_path / "small.txt"
    corpus.write_text(" " + " ".join(f"w{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}" for i in range(300)) * 3)
    result = cli(
        "train",
        "--corpus",
        corpus,
        "--vocab-size",
        "0",
        "--min-count",
        "5",
        "--drop-unk",
        "--runs-root",
        tmp_path,
        cwd=tmp_path,
        expect=2,
        timeout=120,
    )
    assert "nothing to train on" in result.stderr and "training the" not in result.stdout


@pytest.mark.parametrize("command", ["train", "stats"])
def test_a_corpus_with_fewer_pairs_than_one_batch_is_refused(tmp_path, capsys, command):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(" one two three four five")
    extra = ["--runs-root", tmp_path] if command == "train" else []
    refused(capsys, command, "--corpus", corpus, "--preset", "lecture", *extra, match="fewer than one batch")


def test_a_tf1_model_with_more_noise_words_than_the_vocabulary_trains(tmp_path, capsys):
    code, out, err = run(
        capsys,
        "train",
        "--corpus",
        "toy",
        "--api",
        "tf1",
        "--vocab-size",
        "50",
        "--num-sampled",
        "64",
        "--steps",
        "20",
        "--skip-step",
        "10",
        "--embed-size",
        "8",
        "--tsne-words",
        "20",
        "--quiet",
        "--runs-root",
        tmp_path,
    )
    assert code == 0, err


@pytest.mark.parametrize("where", ["run-dir", "runs-root"])
def test_a_run_directory_that_is_a_file_is_refused(tmp_path, capsys, where):
    (tmp_path / "file").write_text("")
    refused(capsys, "train", "--corpus", "toy", f"--{where}", tmp_path / "file", match="is a file, not a directory")


def test_a_corpus_that_is_a_folder_is_refused(tmp_path, capsys, monkeypatch):
    refused(capsys, "train", "--corpus", tmp_path, match="is a folder")
    monkeypatch.setenv("CS20_TEXT8", str(tmp_path))
    err = refused(capsys, "train", "--runs-root", tmp_path / "runs", match="is a folder")
    assert "environment variable CS20_TEXT8" in err


def test_a_missing_corpus_named_by_the_environment_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CS20_TEXT8", str(tmp_path / "absent.zip"))
    err = refused(capsys, "stats", match="does not exist")
    assert "environment variable CS20_TEXT8" in err


def test_a_truncated_zip_is_reported_as_damaged(tmp_path, capsys):
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("text8", " the quick brown fox" * 20_000)
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    refused(capsys, "stats", "--corpus", truncated, match="is a damaged zip archive")


def test_a_long_corpus_name_gives_a_short_run_directory(tmp_path, capsys):
    corpus = tmp_path / ("a" * 200 + ".txt")
    corpus.write_text(" the cat sat on the mat and the dog sat on the log" * 200)
    code, out, err = run(
        capsys,
        "train",
        "--corpus",
        corpus,
        "--preset",
        "lecture",
        "--vocab-size",
        "0",
        "--steps",
        "20",
        "--skip-step",
        "10",
        "--batch-size",
        "16",
        "--num-sampled",
        "4",
        "--tsne-words",
        "0",
        "--quiet",
        "--runs-root",
        tmp_path / "runs",
    )
    assert code == 0, err
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert len(run_dir.name) < 150


def test_sub_commands_explain_what_is_wrong_with_a_run_directory(tmp_path, capsys):
    refused(capsys, "evaluate", tmp_path / "nowhere", match="is not a run directory")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{")
    err = refused(capsys, "neighbours", tmp_path / "broken", "king", match="is not valid JSON")
    assert str(tmp_path / "broken" / "config.json") in err


def test_an_untrained_run_says_how_to_train_it(tmp_path, capsys):
    from cs20lib.runs import open_run

    config = Word2VecConfig(learning_rate=0.5, corpus="toy", vocab_size=300)
    open_run(tmp_path / "run", config, "tf2")
    err = refused(capsys, "project", tmp_path / "run", match="train it first: python -m cs20lib train --corpus toy")
    assert f"--run-dir {tmp_path / 'run'}" in err and "--learning-rate 0.5" in err and "--vocab-size 300" in err


def test_unknown_words_and_mismatched_settings(toy_run, tmp_path, capsys):
    run_dir, _ = toy_run
    refused(capsys, "neighbours", run_dir, "zyzzyva", match="'zyzzyva' is not in the vocabulary")
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    refused(
        capsys,
        "train",
        "--corpus",
        "toy",
        "--steps",
        "400",
        *SMALL,
        "--embed-size",
        "32",
        "--run-dir",
        copy,
        match="embed_size: checkpoint has 16, this run has 32",
    )


# ----------------------------------------------------------------------------------------------
# Environment failures, in a private mount namespace (a small or read-only file system)
# ----------------------------------------------------------------------------------------------
def namespace_available() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--mount", "--map-root-user", "true"], capture_output=True)
    return probe.returncode == 0


needs_namespace = pytest.mark.skipif(
    not namespace_available(), reason="unshare --mount --map-root-user is not permitted here"
)


def in_namespace(script: str, tmp_path, timeout=300):
    """Run a shell script in a private mount namespace, where it may mount file systems for itself only."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHON": sys.executable, "T": str(tmp_path)}
    return subprocess.run(
        ["unshare", "--mount", "--map-root-user", "bash", "-c", script],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@needs_namespace
def test_a_full_disk_while_saving_is_one_line_and_keeps_the_last_checkpoint(tmp_path):
    script = """
    set -u
    mkdir -p $T/small && mount -t tmpfs -o size=1200k tmpfs $T/small
    $PYTHON -m cs20lib train --corpus toy --preset lecture --vocab-size 0 --embed-size 64 --steps 400 --skip-step 100 \
        --quiet --run-dir $T/small/run > $T/out.txt 2> $T/err.txt
    echo "exit=$?"
    ls $T/small/run/checkpoints
    """
    result = in_namespace(script, tmp_path)
    err = (tmp_path / "err.txt").read_text()
    assert "exit=2" in result.stdout, result.stdout + result.stderr + err
    assert err.startswith("error: ") and "Traceback" not in err and err.count("\n") == 1, err
    assert "free some space" in err and ("could not save" in err or "disk is full" in err)
    assert "_temp" not in result.stdout  # the half-written checkpoint folder was removed


@needs_namespace
def test_a_read_only_run_directory_is_one_line(tmp_path):
    script = """
    set -u
    mkdir -p $T/ro && mount -t tmpfs tmpfs $T/ro && mkdir $T/ro/runs && mount -o remount,ro $T/ro
    $PYTHON -m cs20lib train --corpus toy --preset lecture --steps 20 --quiet --runs-root $T/ro/runs 2>&1
    echo "exit=$?"
    """
    result = in_namespace(script, tmp_path)
    assert "exit=2" in result.stdout, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "read-only file system" in lines[0] and "Traceback" not in result.stdout


# ----------------------------------------------------------------------------------------------
# One training per run directory, and a stop that says how to resume
# ----------------------------------------------------------------------------------------------
LONG = ["train", "--corpus", "toy", "--preset", "lecture", "--vocab-size", "300", "--embed-size", "16"]
LONG += ["--batch-size", "32", "--num-sampled", "8", "--skip-step", "500", "--tsne-words", "0", "--quiet"]


def background(*args, cwd, ignore_sigint=False):
    """``python -m cs20lib`` started as from a script in the background (SIGINT ignored, if asked)."""
    import signal

    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def before():
        if ignore_sigint:
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    command = [sys.executable, "-m", "cs20lib", *map(str, args)]
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=before
    )


def read_until(process, text, timeout=300):
    import time

    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return "".join(lines)
    process.kill()
    raise AssertionError(f"no line with {text!r}:\n{''.join(lines)}")


@pytest.mark.slow
def test_a_second_training_of_a_run_directory_is_refused_or_waits(tmp_path):
    run_dir = tmp_path / "run"
    first = background(*LONG, "--steps", "400000", "--run-dir", run_dir, cwd=tmp_path)
    try:
        read_until(first, "Average loss at step 499")
        second = cli(*LONG, "--steps", "600", "--run-dir", run_dir, cwd=tmp_path, expect=2)
        assert f"is being trained by process {first.pid}" in second.stderr and "--wait" in second.stderr, second.stderr
        assert "Traceback" not in second.stderr
        waiting = background(*LONG, "--steps", "400000", "--run-dir", run_dir, "--wait", cwd=tmp_path)
        seen = read_until(waiting, "waiting for process")
        first.terminate()  # SIGTERM: the first run stops at a step, says so, and lets go of the directory
        out = first.communicate(timeout=120)[0]
        assert first.returncode == 130 and "interrupted at step" in out and "resume from it" in out, out
        seen += read_until(waiting, "resuming from")
        waiting.terminate()
        seen += waiting.communicate(timeout=120)[0]
        assert "interrupted at step" in seen, seen
    finally:
        for process in (first, locals().get("waiting")):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=30)


@pytest.mark.slow
def test_ctrl_c_stops_a_run_started_in_the_background_and_names_its_checkpoint(tmp_path):
    """A process started from a script in the background inherits SIGINT ignored; Ctrl-C (SIGINT) still stops
    it within seconds, naming the last checkpoint and how to resume."""
    import signal
    import time

    run_dir = tmp_path / "run"
    process = background(*LONG, "--steps", "400000", "--run-dir", run_dir, cwd=tmp_path, ignore_sigint=True)
    try:
        read_until(process, "Average loss at step 999")
        process.send_signal(signal.SIGINT)
        started = time.monotonic()
        out = process.communicate(timeout=60)[0]
        assert time.monotonic() - started < 15
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert process.returncode == 130, out
    line = next(line for line in out.splitlines() if line.startswith("interrupted at step"))
    assert f"the last checkpoint is {run_dir / 'checkpoints'}/ckpt-" in line and "resume from it" in line, out


def test_a_preset_with_another_batch_size_keeps_its_rate_per_pair():
    """In code as on the command line: negative sampling's step is learning_rate / batch_size a pair."""
    preset = PRESETS["word2vec"]
    assert preset.config().pair_learning_rate == pytest.approx(0.025)
    assert preset.config(batch_size=512).learning_rate == pytest.approx(0.025 * 512)
    assert preset.config(batch_size=512, learning_rate=1.0).learning_rate == 1.0  # a rate given is kept
    lecture = PRESETS["lecture"]  # NCE: its rate is the lecture's, whatever the batch
    assert lecture.config(batch_size=64).learning_rate == lecture.config().learning_rate == 1.0


def test_an_option_of_two_names_shows_its_choices_once_on_every_python(capsys):
    """The help a notebook prints is the same on every supported Python (``--api, --model {tf2,tf1}``)."""
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    shown = capsys.readouterr().out
    assert "--api, --model {tf2,tf1}" in shown and "--api {tf2,tf1}, --model" not in shown
