"""One check decides which files are taken (index/acceptance.py): the index run's scan, `Engine.add_file` and
Discord's /add (tests/test_discord_admin.py) refuse the same files for the same reasons."""
from __future__ import annotations

import pytest

from newsdesk.index.acceptance import plain_name, refusal
from newsdesk.index.engine import Engine
from newsdesk.index.settings import Settings

TEXT = b"Harbour news\n\nThe harbour at Pyke reopened on Monday, the mayor said, after a week of storms.\n"


@pytest.mark.parametrize("name, reason", [
    ("story.txt", None),
    ("Story.HTML", None),
    ("notes.markdown", None),
    ("virus.exe", "unsupported file type .exe"),
    ("README", "unsupported file type (none)"),
    ("file.", "unsupported file type (none)"),
    (".txt", "unsupported file type (none)"),
])
def test_the_type_is_read_from_the_name(name, reason) -> None:
    assert refusal(name, 10, Settings(max_file_mb=1)) == reason


def test_a_file_over_the_limit_is_refused_with_both_sizes() -> None:
    settings = Settings(max_file_mb=1)
    assert refusal("big.txt", 1024 * 1024, settings) is None
    assert refusal("big.txt", 3 * 1024 * 1024 + 300_000, settings) == "file too large (3.3 MB > 1 MB)"
    assert refusal("big.txt", 3 * 1024 * 1024, settings, upload=True) == \
        "file too large (3 MB > 1 MB); the limit is 1 MB"
    assert refusal("big.exe", None, settings, upload=True).startswith("unsupported file type .exe: send one of ")


def test_a_saved_name_is_one_plain_file_name() -> None:
    assert plain_name("a/b/../../Café news (1).TXT") == "Caf-news-1-.TXT"
    assert plain_name("..\\..\\.hidden.md") == "hidden.md"
    assert plain_name("x" * 200 + ".txt") == "x" * 120
    assert plain_name("///", fallback="upload") == "upload"


def test_the_scan_and_add_file_refuse_the_same_files_for_the_same_reasons(tmp_path, fake_embedder) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "virus.exe").write_bytes(b"MZ\x90\x00")
    (corpus / "huge.txt").write_bytes(TEXT * 200)
    (corpus / "harbour.txt").write_bytes(TEXT)
    engine = Engine(Settings(corpus=corpus, data=tmp_path / "data", progress=False, max_file_mb=0.01),
                    embedder=fake_embedder)
    report = engine.index(progress=False)
    scanned = {s.path: s.reason for s in report.skipped}
    assert scanned == {"virus.exe": "unsupported file type .exe", "huge.txt": "file too large (18.4 KB > 10.2 KB)"}
    assert report.documents == 1
    for name, data in (("virus.exe", b"MZ\x90\x00"), ("huge.txt", TEXT * 200)):
        with pytest.raises(ValueError) as refused:
            engine.add_file(f"uploads/{name}", data)
        assert str(refused.value).startswith(scanned[name])
    assert sorted(p.name for p in corpus.iterdir()) == ["harbour.txt", "huge.txt", "virus.exe"]
