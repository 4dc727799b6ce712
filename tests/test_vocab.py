"""The lecture's vocabulary: UNK = 0, most common next, ties by first appearance, metadata, save/load."""

import collections

import numpy as np
import pytest

from cs20lib.vocab import UNK, UnknownWordError, Vocabulary

WORDS = "the cat sat on the mat the dog sat on a log a cat".split()


def test_ids_follow_counter_most_common():
    vocab = Vocabulary.build(WORDS, vocab_size=5)
    expected = [UNK] + [word for word, _ in collections.Counter(WORDS).most_common(4)]
    assert vocab.words == expected == [UNK, "the", "cat", "sat", "on"]
    # ties ("cat", "sat", "on", "a" all twice) keep the order of first appearance
    assert vocab.counts.tolist() == [len(WORDS) - 3 - 2 - 2 - 2, 3, 2, 2, 2]
    assert vocab.counts.sum() == len(WORDS)


def test_matches_lecture_on_text8(text8_head):
    from cs20lib.corpus import read_words

    words = read_words(text8_head, max_words=300_000)
    vocab = Vocabulary.build(words, 1000)
    lecture = [UNK] + [word for word, _ in collections.Counter(words).most_common(999)]
    assert vocab.words == lecture
    assert vocab.words[1:3] == ["the", "of"]


def test_out_of_vocabulary_words_map_to_unk():
    vocab = Vocabulary.build(WORDS, vocab_size=3)
    ids = vocab.encode(["the", "cat", "dog", "zebra"])
    assert ids.dtype == np.int32 and ids.tolist() == [1, 2, 0, 0]
    assert vocab.decode([1, 0, 2]) == ["the", UNK, "cat"]
    assert vocab.encode(iter(["the"])).tolist() == [1]


def test_min_count_and_unlimited_size():
    vocab = Vocabulary.build(WORDS, min_count=2)
    assert vocab.words == [UNK, "the", "cat", "sat", "on", "a"]
    assert vocab.counts[0] == 3  # mat, dog, log


def test_literal_unk_counts_as_unk():
    vocab = Vocabulary.build(["UNK", "x", "x"], vocab_size=2)
    assert vocab.words == [UNK, "x"] and vocab.counts.tolist() == [1, 2]


def test_vocab_size_larger_than_distinct_words_warns_and_shrinks():
    with pytest.warns(UserWarning, match=r"vocab_size=50,000 but the corpus has only 8 distinct words.*9 entries"):
        vocab = Vocabulary.build(WORDS, vocab_size=50_000)
    assert len(vocab) == 9


@pytest.mark.parametrize("size", [0, -3, 2.5, "10"])
def test_bad_vocab_size_is_refused(size):
    with pytest.raises(ValueError, match=r"vocab_size \(it counts UNK\) must be an integer >= 1, not"):
        Vocabulary.build(WORDS, vocab_size=size)


def test_empty_corpus_is_refused():
    with pytest.raises(ValueError, match="empty corpus"):
        Vocabulary.build([], vocab_size=10)


def test_unknown_query_word_is_a_clear_error():
    vocab = Vocabulary.build(WORDS, vocab_size=3)
    assert vocab.id("cat") == 2
    with pytest.raises(UnknownWordError, match="'zebra' is not in the vocabulary") as info:
        vocab.id("zebra")
    assert isinstance(info.value, KeyError)
    assert "zebra" in str(info.value) and not str(info.value).startswith('"')


def test_metadata_row_i_is_word_i(tmp_path):
    vocab = Vocabulary.build(WORDS, vocab_size=6)
    path = vocab.write_metadata(tmp_path / "runs" / "metadata.tsv")
    rows = path.read_text().splitlines()
    assert rows == vocab.words and rows[0] == UNK
    assert vocab.write_metadata(tmp_path / "head.tsv", limit=3).read_text().splitlines() == vocab.words[:3]


def test_save_and_load_round_trip(tmp_path):
    vocab = Vocabulary.build(WORDS, vocab_size=6)
    path = vocab.save(tmp_path / "vocab.json")
    assert Vocabulary.load(path) == vocab
    assert list(tmp_path.iterdir()) == [path]
    (tmp_path / "bad.json").write_text('{"words": []}')
    with pytest.raises(ValueError, match="not a vocabulary saved by Vocabulary.save"):
        Vocabulary.load(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match="no vocabulary file"):
        Vocabulary.load(tmp_path / "missing.json")


def test_constructor_checks():
    with pytest.raises(ValueError, match="first entry"):
        Vocabulary(["a"], [1])
    with pytest.raises(ValueError, match="unique"):
        Vocabulary([UNK, "a", "a"], [0, 1, 1])
