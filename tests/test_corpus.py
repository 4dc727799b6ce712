"""Corpus access: download + verification against a real HTTP server on 127.0.0.1, reading, formats."""

import http.server
import io
import random
import threading
import zipfile
import zlib
from pathlib import Path

import pytest

from cs20lib import corpus as corpus_mod
from cs20lib import download
from cs20lib.corpus import (
    CorpusFormatError,
    CorpusUnavailableError,
    CorruptArchiveError,
    load_corpus,
    normalize_text,
    read_words,
)
from cs20lib.download import TEXT8, ZipSpec, fetch, verify_zip


def _text(n_words: int = 40_000) -> bytes:
    """Text8-format bytes that do not compress to nothing (so truncation and bit flips bite)."""
    rng = random.Random(0)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["anarchism", "originated", "as", "a", "term"]
    words += ["".join(rng.choice(letters) for _ in range(rng.randint(1, 9))) for _ in range(n_words)]
    return (" " + " ".join(words)).encode()


TEXT = _text()


def make_zip(member: str = "text8", data: bytes = TEXT) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(member, data)
    return buffer.getvalue()


GOOD = make_zip()


class Server:
    """A real HTTP server on 127.0.0.1 serving fixed bytes per path; counts requests."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    flipped = bytearray(GOOD)
    middle = len(flipped) // 2  # inside the deflate stream: same size, wrong content
    flipped[middle] ^= 0xFF
    srv = Server({"/good.zip": GOOD, "/truncated.zip": GOOD[: len(GOOD) // 2], "/corrupt.zip": bytes(flipped)})
    yield srv
    srv.close()


def spec_for(url: str) -> ZipSpec:
    """What the good archive is; every served variant is checked against it."""
    return ZipSpec(url, "text8.zip", len(GOOD), "text8", len(TEXT), zlib.crc32(TEXT))


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_text8_spec_is_the_lecture_archive():
    assert TEXT8.url == "http://mattmahoney.net/dc/text8.zip"
    assert (TEXT8.zip_bytes, TEXT8.member, TEXT8.member_bytes, TEXT8.member_crc32) == (
        31_344_016,
        "text8",
        100_000_000,
        0x7D6BE66F,
    )


def test_download_good_archive(server, tmp_path):
    path = fetch(spec_for(server.url("/good.zip")), tmp_path, progress=False)
    assert path == tmp_path / "text8.zip"
    assert path.read_bytes() == GOOD
    assert leftovers(tmp_path) == ["text8.zip"]  # no temporary file left behind
    # A second call uses the verified cache and does not download again.
    assert fetch(spec_for(server.url("/good.zip")), tmp_path, progress=False) == path
    assert server.requests == ["/good.zip"]


@pytest.mark.parametrize(
    "name, reason", [("/truncated.zip", "bytes, expected"), ("/corrupt.zip", "CRC|not a readable zip")]
)
def test_download_bad_archive_is_removed_and_reported(server, tmp_path, name, reason):
    with pytest.raises(CorruptArchiveError, match=reason) as info:
        fetch(spec_for(server.url(name)), tmp_path, progress=False)
    message = str(info.value)
    assert "failed verification and was removed" in message
    assert "Run the command again" in message and str(tmp_path / "text8.zip") in message
    assert leftovers(tmp_path) == []  # nothing half-written carries the final name, no .part left


def test_corrupt_cached_copy_is_moved_aside_then_downloaded_again(server, tmp_path, capsys):
    cached = tmp_path / "text8.zip"
    half = GOOD[: len(GOOD) // 2]
    cached.write_bytes(half)
    path = fetch(spec_for(server.url("/good.zip")), tmp_path, progress=False)
    assert path.read_bytes() == GOOD
    # nothing a user placed is deleted: the rejected copy is kept beside it, and the message says where
    (aside,) = tmp_path.glob("text8.zip.rejected-*")
    assert aside.read_bytes() == half
    message = capsys.readouterr().err
    assert "not the canonical text8.zip" in message and str(aside) in message and "downloaded again" in message


def test_corrupt_cached_copy_offline_is_moved_aside_and_explained(tmp_path, capsys):
    cached = tmp_path / "text8.zip"
    flipped = bytearray(GOOD)
    flipped[len(flipped) // 2] ^= 0xFF
    cached.write_bytes(bytes(flipped))
    with pytest.raises(CorpusUnavailableError, match="could not download"):
        fetch(spec_for("http://127.0.0.1:9/text8.zip"), tmp_path, progress=False)
    assert "moved to" in capsys.readouterr().err
    (aside,) = leftovers(tmp_path)
    assert aside.startswith("text8.zip.rejected-") and (tmp_path / aside).read_bytes() == bytes(flipped)


def test_offline_names_the_path_to_place_the_file(tmp_path):
    # Port 9 (discard) on loopback: connection refused, no traffic leaves the machine.
    with pytest.raises(CorpusUnavailableError) as info:
        fetch(spec_for("http://127.0.0.1:9/text8.zip"), tmp_path / "cache", progress=False)
    message = str(info.value)
    assert str(tmp_path / "cache" / "text8.zip") in message and "place it at" in message
    assert leftovers(tmp_path / "cache") == []


def test_http_error_is_reported(server, tmp_path):
    with pytest.raises(CorpusUnavailableError, match="404"):
        fetch(spec_for(server.url("/missing.zip")), tmp_path, progress=False)


def test_verify_zip_rejects_wrong_member_and_non_zip(tmp_path):
    other = tmp_path / "other.zip"
    other.write_bytes(make_zip(member="notes.txt"))
    spec = ZipSpec("", "x.zip", other.stat().st_size, "text8", len(TEXT), zlib.crc32(TEXT))
    with pytest.raises(CorruptArchiveError, match="no member 'text8'"):
        verify_zip(other, spec)
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"x" * len(GOOD))
    with pytest.raises(CorruptArchiveError, match="not a readable zip"):
        verify_zip(garbage, spec_for(""))


def test_verify_zip_rejects_text8_head_as_text8(text8_head):
    with pytest.raises(CorruptArchiveError, match="4,188,619 bytes, expected 31,344,016"):
        verify_zip(text8_head, TEXT8)


def test_load_corpus_falls_back_to_toy_only_when_asked(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(download, "TEXT8", spec_for("http://127.0.0.1:9/text8.zip"))
    with pytest.raises(CorpusUnavailableError):
        load_corpus(progress=False)
    capsys.readouterr()
    toy = load_corpus(progress=False, fallback_to_toy=True)
    assert toy.name == "toy" and len(toy) > 1000
    assert "toy corpus is used instead" in capsys.readouterr().err


def test_load_corpus_downloads_into_the_cache(server, monkeypatch, tmp_path):
    monkeypatch.setattr(download, "TEXT8", spec_for(server.url("/good.zip")))
    monkeypatch.setenv("CS20_CACHE_DIR", str(tmp_path))
    loaded = load_corpus(progress=False)
    assert loaded.name == "text8" and loaded.words == TEXT.decode().split()
    assert (tmp_path / "text8.zip").exists()


# -- reading ------------------------------------------------------------------------------------


def test_read_words_plain_and_zipped_agree(tmp_path):
    plain = tmp_path / "corpus.txt"
    plain.write_bytes(TEXT)
    zipped = tmp_path / "corpus.zip"
    zipped.write_bytes(GOOD)
    assert read_words(plain) == read_words(zipped) == TEXT.decode().split()
    assert read_words(zipped, max_words=5) == ["anarchism", "originated", "as", "a", "term"]


def test_max_words_stops_early_and_is_a_prefix(text8_head, monkeypatch):
    first = read_words(text8_head, max_words=2_000_000)
    assert len(first) == 2_000_000
    assert first[:7] == ["anarchism", "originated", "as", "a", "term", "of", "abuse"]
    everything = read_words(text8_head)
    assert len(everything) == 2_139_748
    assert first == everything[:2_000_000]
    # Small requests do not inflate the whole file: count the pieces read.
    pieces = []
    original = corpus_mod._check_alphabet
    monkeypatch.setattr(
        corpus_mod, "_check_alphabet", lambda piece, *a: (pieces.append(len(piece)), original(piece, *a))
    )
    assert len(read_words(text8_head, max_words=1000)) == 1000
    assert len(pieces) == 1


def test_max_words_across_piece_boundaries(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "CHUNK_BYTES", 7)  # words cut by piece boundaries everywhere
    path = tmp_path / "c.txt"
    path.write_bytes(TEXT[:5000])
    words = TEXT[:5000].decode().split()
    for n in (1, 2, 3, 10, 99, len(words)):
        assert read_words(path, max_words=n) == words[:n]
    assert read_words(path) == words
    # a word longer than several pieces, and a file that does not end in a separator
    path.write_bytes(b" a " + b"x" * 30 + b" bb\ncc " + b"y" * 15)
    assert read_words(path) == ["a", "x" * 30, "bb", "cc", "y" * 15]


def test_repeated_words_share_one_string(text8_head):
    """A corpus's words are references to one str per distinct word (the memory it saves: BENCHMARKS.md)."""
    words = read_words(text8_head, max_words=100_000)
    first = {}
    assert all(first.setdefault(word, word) is word for word in words)
    assert len(first) < len(words) / 5


@pytest.mark.parametrize("bad", [b" hello World", b" caf\xc3\xa9 au lait", b" one, two", b" tab\there", b" year 1984"])
def test_characters_outside_the_alphabet_are_named(tmp_path, bad):
    path = tmp_path / "bad.txt"
    path.write_bytes(b" fine words first" + bad)
    with pytest.raises(CorpusFormatError, match=r"byte \d+ is .*outside text8's alphabet.*normalize_text"):
        read_words(path)


def test_empty_corpus_is_a_clear_error(tmp_path):
    for content in (b"", b"   \n  "):
        path = tmp_path / "empty.txt"
        path.write_bytes(content)
        with pytest.raises(CorpusFormatError, match="contains no words"):
            read_words(path)


def test_missing_file_and_bad_max_words(tmp_path):
    with pytest.raises(CorpusUnavailableError, match="does not exist"):
        read_words(tmp_path / "nope.zip")
    with pytest.raises(ValueError, match="max_words"):
        read_words(tmp_path / "nope.zip", max_words=0)


def test_zip_with_several_members_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a", " one")
        archive.writestr("b", " two")
    path = tmp_path / "two.zip"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(CorpusFormatError, match="exactly one file"):
        read_words(path)


def test_normalize_text_makes_text8_format(tmp_path):
    text = normalize_text("In 1984, Orwell's  Café-Society\twas 2nd!")
    assert text == " in one nine eight four orwell s caf society was two nd"
    path = tmp_path / "n.txt"
    path.write_text(text)
    assert read_words(path)[:2] == ["in", "one"]
    assert normalize_text("!!!") == ""


def test_environment_variable_selects_the_corpus(tmp_path, monkeypatch):
    path = tmp_path / "mine.txt"
    path.write_bytes(b" alpha beta gamma")
    monkeypatch.setenv("CS20_TEXT8", str(path))
    loaded = load_corpus()
    assert (loaded.name, loaded.words, loaded.source) == ("mine", ["alpha", "beta", "gamma"], str(path))
