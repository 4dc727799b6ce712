"""Evaluation: nearest neighbours, Google analogies (3CosAdd) and WordSim-353, cross-checked against gensim.

gensim 4.4's ``KeyedVectors.evaluate_word_analogies`` / ``evaluate_word_pairs`` are the reference: the same
vectors, in vocabulary order without UNK, must give the same counts per section and the same correlations.
"""

import json
import math

import numpy as np
import pytest
from conftest import shared_file

from cs20lib import evaluation
from cs20lib.evaluation import (
    ANALOGIES_FILE,
    EVAL_DIR_ENV,
    WORDSIM_FILE,
    eval_data_path,
    evaluate,
    evaluate_analogies,
    evaluate_wordsim,
    format_metrics,
    nearest_neighbours,
    nearest_neighbours_many,
    read_analogies,
    write_metrics,
)
from cs20lib.vocab import UNK, UnknownWordError, Vocabulary

gensim_utils = pytest.importorskip("gensim.test.utils")
from gensim.models import KeyedVectors, Word2Vec  # noqa: E402

GOOGLE = gensim_utils.datapath(ANALOGIES_FILE)
WORDSIM = gensim_utils.datapath(WORDSIM_FILE)
GOOGLE_QUESTIONS = 19_544
WORDSIM_PAIRS = 353


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def assert_plain(value, where="result"):
    """Only dict / list / tuple / str / int / float / bool / None, recursively (numpy scalars are not)."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str, f"{where}: key {key!r} is {type(key).__name__}"
            assert_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            assert_plain(item, f"{where}[{i}]")
    else:
        assert type(value) in (str, int, float, bool, type(None)), f"{where} is {type(value).__name__}"


def keyed_vectors(vocab, embeddings):
    """The same vectors as a gensim KeyedVectors: vocabulary order, without UNK."""
    kv = KeyedVectors(embeddings.shape[1])
    kv.add_vectors(vocab.words[1:], np.asarray(embeddings[1:], dtype=np.float32))
    return kv


def gensim_analogies(kv, path, restrict_vocab):
    with np.errstate(all="ignore"):  # zero vectors: gensim divides by a zero norm
        score, sections = kv.evaluate_word_analogies(str(path), restrict_vocab=restrict_vocab)
    total = sections.pop()
    assert total["section"] == "Total accuracy"
    per_section = {s["section"]: (len(s["correct"]), len(s["correct"]) + len(s["incorrect"])) for s in sections}
    return score, per_section, len(total["correct"]), len(total["correct"]) + len(total["incorrect"])


def assert_same_analogies(embeddings, vocab, restrict_vocab, path=GOOGLE, questions=GOOGLE_QUESTIONS):
    ours = evaluate_analogies(embeddings, vocab, path, restrict_vocab=restrict_vocab)
    gensim_restrict = len(vocab) - 1 if restrict_vocab is None else restrict_vocab
    score, per_section, correct, considered = gensim_analogies(keyed_vectors(vocab, embeddings), path, gensim_restrict)
    assert {name: (s["correct"], s["considered"]) for name, s in ours["sections"].items()} == per_section
    assert (ours["correct"], ours["considered"]) == (correct, considered)
    assert ours["accuracy"] == pytest.approx(score, abs=1e-12)
    assert ours["considered"] + ours["skipped"] == questions
    for s in ours["sections"].values():
        assert s["accuracy"] == (s["correct"] / s["considered"] if s["considered"] else 0.0)
    assert_plain(ours)
    return ours


def assert_same_wordsim(embeddings, vocab, restrict_vocab=300_000):
    ours = evaluate_wordsim(embeddings, vocab, WORDSIM, restrict_vocab=restrict_vocab)
    pearson, spearman, oov_ratio = keyed_vectors(vocab, embeddings).evaluate_word_pairs(
        WORDSIM, restrict_vocab=restrict_vocab
    )
    assert ours["pairs"] + ours["skipped"] == WORDSIM_PAIRS
    assert 100.0 * ours["skipped"] / WORDSIM_PAIRS == pytest.approx(oov_ratio, abs=1e-9)
    assert ours["spearman"] == pytest.approx(float(spearman.statistic), abs=1e-6)
    assert ours["pearson"] == pytest.approx(float(pearson.statistic), abs=1e-6)
    assert_plain(ours)
    return ours


def wordsim_pairs():
    pairs = []
    with open(WORDSIM, encoding="utf-8") as fin:
        for line in fin:
            if not line.startswith("#"):
                first, second, score = line.rstrip("\n").split("\t")
                pairs.append((first.lower(), second.lower(), float(score)))
    return pairs


# ----------------------------------------------------------------------------------------------
# fixtures: planted random vectors, and real vectors trained on text8
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def planted():
    """Random Gaussian vectors over the Google and WordSim words plus fillers, with planted structure.

    * 2,500 analogies planted as d = b - a + c + noise (later plantings disturb earlier ones: a mix of
      right and wrong answers);
    * case variants: "Paris" more frequent than "paris" (so it stands for PARIS), "GREECE" and "Japan"
      less frequent than their lowercase forms and planted as the exact 3CosAdd answer of questions in
      which their lowercase forms are a, b or c (gensim then passes over them);
    * near ties: fillers whose vectors copy answers' vectors, plus a little noise;
    * a zero vector, and an UNK row that would win everything if it were a candidate;
    * WordSim pairs pulled together in proportion to their human score.
    """
    rng = np.random.default_rng(2013)
    dim = 48
    questions = read_analogies(GOOGLE)
    pairs = wordsim_pairs()
    google = list(dict.fromkeys(w for q in questions for w in q[1:]))  # 905 words, the most frequent here
    others = list(dict.fromkeys(w for p in pairs for w in p[:2] if w not in google))
    others += [f"filler{i}" for i in range(2_000)]
    rng.shuffle(google)
    rng.shuffle(others)
    words = google + others
    words.insert(5, "Paris")
    words += ["GREECE", "Japan"]
    vocab = Vocabulary([UNK] + words, [0] + list(range(len(words) + 1000, 1000, -1)))
    emb = rng.standard_normal((len(vocab), dim)).astype(np.float32)
    ids = vocab.index

    for _, a, b, c, d in (questions[i] for i in rng.choice(len(questions), 2_500, replace=False)):
        emb[ids[d]] = emb[ids[b]] - emb[ids[a]] + emb[ids[c]] + 0.25 * rng.standard_normal(dim)
    for first, second, score in pairs:
        emb[ids[second]] += (score / 10.0) * emb[ids[first]] / 2
    # case variants that would win the questions where their lowercase form is a, b or c
    for variant in ("GREECE", "Japan"):
        (_, a, b, c, _) = next(q for q in questions if q[2] == variant.lower())
        unit = {w: emb[ids[w]] / np.linalg.norm(emb[ids[w]]) for w in (a, b, c)}
        emb[ids[variant]] = unit[b] - unit[a] + unit[c]
    # near ties (0.01 of noise) with the expected answer, and with other words. Not exact copies: gensim
    # breaks an exact tie by numpy's argpartition order, which no rule reproduces; our rule for exact
    # ties (the most frequent word wins) is tested by hand in test_exact_ties_go_to_the_more_frequent_word
    for i, (_, _a, b, _c, d) in enumerate(questions[::400]):
        copied = emb[ids[d] if i % 2 else min(ids[b] + 1, len(vocab) - 1)]
        emb[ids[f"filler{i}"]] = copied + 1e-2 * rng.standard_normal(dim)
    emb[ids["filler1999"]] = 0.0
    emb[0] = 100.0 * emb[ids[questions[0][4]]]  # UNK: never a candidate
    return vocab, emb


@pytest.fixture(scope="module")
def trained():
    """gensim skip-gram on the first 200,000 words of text8 (a few seconds), in a Vocabulary's order."""
    from cs20lib.corpus import read_words

    words = read_words(shared_file("text8_head.zip"), max_words=200_000)
    sentences = [words[i : i + 1000] for i in range(0, len(words), 1000)]
    model = Word2Vec(sentences, vector_size=64, window=5, min_count=5, sg=1, negative=5, epochs=5, workers=1, seed=1)
    vocab = Vocabulary.build(words, min_count=5)
    assert set(vocab.words[1:]) == set(model.wv.index_to_key)
    emb = np.empty((len(vocab), 64), dtype=np.float32)
    emb[0] = model.wv["the"]  # UNK row: a real, very central vector
    emb[1:] = model.wv[vocab.words[1:]]
    return vocab, emb


# ----------------------------------------------------------------------------------------------
# where the files are
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [ANALOGIES_FILE, WORDSIM_FILE])
def test_eval_data_path_defaults_to_gensims_copy(monkeypatch, name):
    monkeypatch.delenv(EVAL_DIR_ENV, raising=False)
    path = eval_data_path(name)
    assert path == evaluation.Path(gensim_utils.datapath(name))
    assert path.is_file()


def test_eval_data_path_follows_environment(monkeypatch, tmp_path):
    (tmp_path / WORDSIM_FILE).write_text("# empty\n", encoding="utf-8")
    monkeypatch.setenv(EVAL_DIR_ENV, str(tmp_path))
    assert eval_data_path(WORDSIM_FILE) == tmp_path / WORDSIM_FILE
    with pytest.raises(FileNotFoundError) as excinfo:
        eval_data_path(ANALOGIES_FILE)  # set, but the file is not there: no silent fallback
    message = str(excinfo.value)
    assert str(tmp_path / ANALOGIES_FILE) in message
    assert gensim_utils.datapath(ANALOGIES_FILE) in message
    assert EVAL_DIR_ENV in message
    monkeypatch.setenv(EVAL_DIR_ENV, "")  # empty counts as unset
    assert eval_data_path(WORDSIM_FILE) == evaluation.Path(WORDSIM)


def test_eval_data_path_missing_everywhere(monkeypatch, tmp_path):
    monkeypatch.delenv(EVAL_DIR_ENV, raising=False)
    monkeypatch.setattr(evaluation, "_gensim_test_data_dir", lambda: tmp_path / "no-gensim")
    with pytest.raises(FileNotFoundError) as excinfo:
        eval_data_path(ANALOGIES_FILE)
    assert str(tmp_path / "no-gensim" / ANALOGIES_FILE) in str(excinfo.value)
    assert EVAL_DIR_ENV in str(excinfo.value)


# ----------------------------------------------------------------------------------------------
# reading analogies
# ----------------------------------------------------------------------------------------------
def test_read_analogies_lowercases_and_skips_bad_lines(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_text(
        ": Capital-Common\n"
        "Athens Greece BAGHDAD iraq\n"
        "\n"
        "only three words\n"
        "one two three four five\n"
        ": gram1-adjective-to-adverb \r\n"
        "Calm calmly  Quick\tquickly\r\n",
        encoding="utf-8",
    )
    assert read_analogies(path) == [
        ("Capital-Common", "athens", "greece", "baghdad", "iraq"),
        ("gram1-adjective-to-adverb", "calm", "calmly", "quick", "quickly"),
    ]
    (tmp_path / "headless.txt").write_text("a b c d\n: s\n", encoding="utf-8")
    with pytest.raises(ValueError, match="before any section header"):
        read_analogies(tmp_path / "headless.txt")
    with pytest.raises(FileNotFoundError, match="nothing.txt"):
        read_analogies(tmp_path / "nothing.txt")


def test_read_analogies_google_set():
    questions = read_analogies()  # the installed copy
    assert len(questions) == GOOGLE_QUESTIONS
    assert len({q[0] for q in questions}) == 14
    assert questions[0] == ("capital-common-countries", "athens", "greece", "baghdad", "iraq")
    assert all(w == w.lower() for q in questions for w in q[1:])


# ----------------------------------------------------------------------------------------------
# nearest neighbours
# ----------------------------------------------------------------------------------------------
DEGREES = {"a": 0, "b": 10, "c": 30, "d": 60, "e": 100, "f": 180, "g": 0}


def compass():
    """Words at known angles in the plane (``g`` points like ``a``, five times longer; UNK like ``a``)."""
    vocab = Vocabulary([UNK, *DEGREES], [5, 7, 6, 5, 4, 3, 2, 1])
    angles = np.radians([0, *DEGREES.values()])
    emb = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    emb[vocab.id("g")] *= 5.0
    emb[0] *= 3.0
    return vocab, emb.astype(np.float32)


def test_nearest_neighbours_known_angles():
    vocab, emb = compass()
    result = nearest_neighbours(emb, vocab, "a", k=3)
    assert [word for word, _ in result] == ["g", "b", "c"]  # not "a" itself, not UNK
    cosines = [1.0, math.cos(math.radians(10)), math.cos(math.radians(30))]
    assert [sim for _, sim in result] == pytest.approx(cosines, abs=1e-6)
    assert all(type(word) is str and type(sim) is float for word, sim in result)
    everything = nearest_neighbours(emb, vocab, "a", k=100)  # k beyond the vocabulary
    assert [word for word, _ in everything] == ["g", "b", "c", "d", "e", "f"]
    assert everything[-1][1] == pytest.approx(-1.0, abs=1e-6)
    assert len(nearest_neighbours(emb, vocab, "c")) == len(vocab) - 2  # default k=8 > 6 others


def test_nearest_neighbours_many_and_ties():
    vocab, emb = compass()
    many = nearest_neighbours_many(emb.astype(np.float64), vocab, ["f", "a"], k=6)
    assert list(many) == ["f", "a"]
    # from 180 degrees: e (80 apart), d (120), c (150), b (170), then a and g tied at -1: by id
    assert [word for word, _ in many["f"]] == ["e", "d", "c", "b", "a", "g"]
    single = nearest_neighbours(emb, vocab, "a", k=6)  # float32 input
    assert [word for word, _ in many["a"]] == [word for word, _ in single]
    assert [sim for _, sim in many["a"]] == pytest.approx([sim for _, sim in single], abs=1e-6)
    assert_plain(many)
    assert nearest_neighbours(emb, vocab, "a", k=0) == []


def test_nearest_neighbours_unknown_word():
    vocab, emb = compass()
    with pytest.raises(UnknownWordError) as excinfo:
        nearest_neighbours(emb, vocab, "zebra")
    assert "'zebra'" in str(excinfo.value)
    assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__
    with pytest.raises(UnknownWordError, match="'okapi'"):
        nearest_neighbours_many(emb, vocab, ["a", "okapi"])
    with pytest.raises(UnknownWordError, match="UNK"):
        nearest_neighbours(emb, vocab, UNK)
    with pytest.raises(ValueError, match="rows"):
        nearest_neighbours(emb[:-1], vocab, "a")


# ----------------------------------------------------------------------------------------------
# analogies: by hand, then against gensim
# ----------------------------------------------------------------------------------------------
def royals():
    """king - man + woman = queen exactly; woman - man + king is queen too (not prince).

    And prince - king + queen is woman (not man).
    """
    words = [UNK, "man", "woman", "king", "queen", "prince", "apple"]
    vocab = Vocabulary(words, [0, 60, 50, 40, 30, 20, 10])
    emb = np.array(
        [[10, 0, 10, 0], [0, 1, 0, 0], [0, 0, 1, 0], [1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 0, 0.5], [0, 0, 0, 1]],
        dtype=np.float32,
    )  # UNK points like queen, ten times longer
    return vocab, emb


def test_analogies_by_hand(tmp_path):
    vocab, emb = royals()
    path = tmp_path / "royal.txt"
    path.write_text(
        ": royalty\nMan King Woman QUEEN\nman king woman zebra\n"
        ": family\nman woman king prince\nking prince queen man\n",
        encoding="utf-8",
    )
    result = evaluate_analogies(emb, vocab, path)
    assert result == {
        "accuracy": 1 / 3,
        "correct": 1,
        "considered": 3,
        "skipped": 1,  # zebra
        "restrict_vocab": 30_000,
        "sections": {
            "royalty": {"correct": 1, "considered": 1, "accuracy": 1.0},
            "family": {"correct": 0, "considered": 2, "accuracy": 0.0},
        },
    }
    printed = format_metrics(result)
    assert "33.3% (1/3 questions; 1 skipped" in printed
    assert "royalty 100.0% (1/1), family 0.0% (0/2)" in printed  # no gram* sections: each section shown
    # only the 3 most frequent words (man, woman, king) are candidates: every question has another word
    assert evaluate_analogies(emb, vocab, path, restrict_vocab=3)["considered"] == 0
    assert evaluate_analogies(emb, vocab, path, restrict_vocab=4)["considered"] == 1
    for restrict in (3, 4, 5, 6, 30_000):
        assert_same_analogies(emb, vocab, restrict, path=path, questions=4)


def test_exact_ties_go_to_the_more_frequent_word(tmp_path):
    vocab, emb = royals()
    # "apple" becomes an exact copy of queen: king - man + woman ties between them
    tied = emb.copy()
    tied[vocab.index["apple"]] = tied[vocab.index["queen"]]
    path = tmp_path / "tie.txt"
    path.write_text(": queen\nman king woman queen\n: apple\nman king woman apple\n", encoding="utf-8")

    def winner(words, counts):
        order = Vocabulary(words, counts)
        rows = tied[[vocab.index[word] for word in order.words]]
        sections = evaluate_analogies(rows, order, path)["sections"]
        (name,) = [name for name, entry in sections.items() if entry["correct"]]
        return name

    assert winner(vocab.words, list(vocab.counts)) == "queen"  # queen (30) is more frequent than apple (10)
    assert winner([UNK, "man", "woman", "king", "apple", "prince", "queen"], [0, 60, 50, 40, 30, 20, 10]) == "apple"


@pytest.mark.parametrize("restrict_vocab", [500, 700, 30_000, None])
def test_analogies_match_gensim_planted(planted, restrict_vocab):
    vocab, emb = planted
    ours = assert_same_analogies(emb, vocab, restrict_vocab)
    assert 0 < ours["correct"] < ours["considered"]
    assert ours["skipped"] > 0 if restrict_vocab in (500, 700) else ours["skipped"] == 0
    assert ours["restrict_vocab"] == (len(vocab) - 1 if restrict_vocab is None else restrict_vocab)


def test_analogies_match_gensim_float64_input(planted):
    vocab, emb = planted
    assert_same_analogies(emb.astype(np.float64), vocab, 2_000)


@pytest.mark.parametrize("restrict_vocab", [500, 3_000, 30_000])
def test_analogies_match_gensim_trained(trained, restrict_vocab):
    vocab, emb = trained
    ours = assert_same_analogies(emb, vocab, restrict_vocab)
    assert ours["skipped"] > 0 and ours["considered"] > 0


# ----------------------------------------------------------------------------------------------
# WordSim-353 against gensim
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("restrict_vocab", [1_000, 1_200, 300_000])
def test_wordsim_matches_gensim_planted(planted, restrict_vocab):
    vocab, emb = planted
    ours = assert_same_wordsim(emb, vocab, restrict_vocab)
    if restrict_vocab == 300_000:
        assert ours["skipped"] == 0 and ours["spearman"] > 0.3  # the planted pull shows


@pytest.mark.parametrize("restrict_vocab", [1_000, 300_000])
def test_wordsim_matches_gensim_trained(trained, restrict_vocab):
    vocab, emb = trained
    ours = assert_same_wordsim(emb, vocab, restrict_vocab)
    assert ours["skipped"] > 0 and ours["pairs"] >= 10


def test_wordsim_without_pairs_gives_none(tmp_path):
    vocab, emb = royals()
    path = tmp_path / "pairs.tsv"
    path.write_text("# word1\tword2\tscore\nking\tqueen\t8.5\nman\tzebra\t1.0\nnot a pair\n", encoding="utf-8")
    assert evaluate_wordsim(emb, vocab, path) == {"spearman": None, "pearson": None, "pairs": 1, "skipped": 1}


# ----------------------------------------------------------------------------------------------
# both, saved and printed
# ----------------------------------------------------------------------------------------------
def test_evaluate_reads_from_cs20_eval_dir(monkeypatch, tmp_path):
    vocab, emb = royals()
    (tmp_path / ANALOGIES_FILE).write_text(": royalty\nman king woman queen\n", encoding="utf-8")
    (tmp_path / WORDSIM_FILE).write_text("king\tqueen\t8\nking\tprince\t9\nking\tapple\t1\n", encoding="utf-8")
    monkeypatch.setenv(EVAL_DIR_ENV, str(tmp_path))
    metrics = evaluate(emb, vocab)
    assert metrics["analogies"]["correct"] == metrics["analogies"]["considered"] == 1
    assert metrics["wordsim"]["pairs"] == 3
    assert metrics["wordsim"]["spearman"] == pytest.approx(1.0)
    assert_plain(metrics)


def test_write_and_format_metrics(planted, tmp_path):
    vocab, emb = planted
    metrics = evaluate(emb, vocab, GOOGLE, WORDSIM, restrict_vocab=700)
    assert_plain(metrics)
    path = write_metrics(tmp_path / "run" / "metrics.json", metrics)
    assert path == tmp_path / "run" / "metrics.json"
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]  # the temp file was renamed
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(metrics, indent=2, sort_keys=True) + "\n"
    assert json.loads(text) == metrics
    assert_plain(json.loads(text))
    # numpy scalars that slip in are written as plain numbers
    write_metrics(path, {"accuracy": np.float32(0.5), "correct": np.int64(3)})
    assert json.loads(path.read_text(encoding="utf-8")) == {"accuracy": 0.5, "correct": 3}

    analogies, wordsim = metrics["analogies"], metrics["wordsim"]
    printed = format_metrics(metrics)
    assert f"{100 * analogies['accuracy']:.1f}%" in printed
    assert f"{analogies['correct']:,}/{analogies['considered']:,}" in printed
    assert f"{analogies['skipped']:,} skipped" in printed
    assert "top 700 words" in printed
    assert f"Spearman {wordsim['spearman']:.3f}" in printed
    assert f"Pearson {wordsim['pearson']:.3f}" in printed
    assert f"{wordsim['pairs']:,} pairs" in printed
    assert "semantic" in printed and "syntactic" in printed
    assert 2 <= len(printed.splitlines()) <= 5
    assert format_metrics(analogies) in printed and format_metrics(wordsim) in printed
    assert "n/a" in format_metrics({"spearman": None, "pearson": None, "pairs": 0, "skipped": 3})


def test_rejects_bad_inputs(planted):
    vocab, emb = planted
    with pytest.raises(ValueError, match="rows"):
        evaluate_analogies(emb[:-1], vocab, GOOGLE)
    with pytest.raises(ValueError, match="restrict_vocab"):
        evaluate_analogies(emb, vocab, GOOGLE, restrict_vocab=-1)
    with pytest.raises(ValueError, match="2-D"):
        evaluate_wordsim(emb[0], vocab, WORDSIM)
