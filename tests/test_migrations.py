"""The index database's named migrations (index/migrations.py): a new database runs them all once, a data folder
written by the newsdesk before them upgrades in place (its index is kept, nothing re-embedded or rebuilt), and a
migration added later runs once on an existing database."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from newsdesk.index import migrations
from newsdesk.index.engine import Engine
from newsdesk.index.settings import Settings
from newsdesk.index.store import DB_NAME, Store
from tests.samples import copy_samples

FIXTURE = Path(__file__).parent / "fixtures" / "schema_before_migrations.sql"
NAMES = ["m001_initial", "m002_stat_columns", "m003_date_from_file", "m004_documents_stat_index", "m005_failures",
         "m006_pending"]


def schema(db: Path) -> dict[str, list[tuple]]:
    """Per table and index (but `_migrations`): its columns (name, type, not null, default, primary key)."""
    with sqlite3.connect(db) as c:
        names = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND "
                                          "name NOT LIKE 'sqlite_%' AND name != '_migrations' ORDER BY name")]
        return {n: [tuple(r[1:]) for r in c.execute(f"PRAGMA table_xinfo({n})")] for n in names}


def applied(db: Path) -> list[str]:
    with sqlite3.connect(db) as c:
        return [r[0] for r in c.execute("SELECT name FROM _migrations ORDER BY rowid")]


def test_a_new_database_runs_every_migration_once_in_order(tmp_path) -> None:
    Store(tmp_path).close()
    assert applied(tmp_path / DB_NAME) == NAMES
    store = Store(tmp_path)
    try:
        assert migrations.migrate(store.conn) == []  # already done: nothing runs again
    finally:
        store.close()
    assert applied(tmp_path / DB_NAME) == NAMES


def test_the_previous_versions_database_upgrades_in_place_keeping_its_rows(tmp_path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    with sqlite3.connect(old / DB_NAME) as c:
        c.executescript(FIXTURE.read_text())
        c.execute("INSERT INTO meta(key, value) VALUES ('generation', '7')")
        c.execute("INSERT INTO documents(path, content_hash, text, indexed_at, size, mtime_ns, ctime_ns, "
                  "date_from_file) VALUES ('a.txt', 'h', 'Some text.', 'now', 10, 20, 30, 1)")
        c.execute("INSERT INTO chunks(path, start, end, hash) VALUES ('a.txt', 0, 10, 'c')")
        c.execute("INSERT INTO failures VALUES ('bomb.pdf', 1, 2, 3, 'reader', 'took too long')")
    store = Store(old)
    try:
        assert store.generation() == 7
        doc = store.document("a.txt")
        assert (doc.text, doc.date_from_file) == ("Some text.", True)
        assert store.document_stats() == {"a.txt": (10, 20, 30)}
        assert store.counts() == (1, 1)
        assert store.failures() == {"bomb.pdf": (1, 2, 3, "reader", "took too long")}
    finally:
        store.close()
    Store(new).close()
    assert applied(old / DB_NAME) == NAMES
    assert schema(old / DB_NAME) == schema(new / DB_NAME)  # the same tables, columns and indexes as a new one


def test_an_older_database_gets_the_columns_and_tables_added_since(tmp_path) -> None:
    with sqlite3.connect(tmp_path / DB_NAME, isolation_level=None) as c:  # the first schema: no stat columns,
        migrations.m001_initial(c)                                           # failures or pending tables
        c.execute("INSERT INTO documents(path, content_hash, text, indexed_at) VALUES ('a.txt', 'h', 'x', 'now')")
    store = Store(tmp_path)
    try:
        assert store.document_stats() == {"a.txt": (None, None, None)}  # unknown: the next run hashes the file
        assert store.document("a.txt").date_from_file is False
        assert store.failures() == {} and not store.has_pending()
    finally:
        store.close()
    Store(tmp_path / "new").close()
    assert schema(tmp_path / DB_NAME) == schema(tmp_path / "new" / DB_NAME)


def test_a_migration_added_later_runs_once_on_an_existing_database(tmp_path, monkeypatch) -> None:
    Store(tmp_path).close()
    calls = []

    def m007_notes(conn: sqlite3.Connection) -> None:
        calls.append(1)
        conn.execute("CREATE TABLE notes (note TEXT)")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, m007_notes])
    for _ in range(2):
        Store(tmp_path).close()
    assert calls == [1]
    assert applied(tmp_path / DB_NAME) == [*NAMES, "m007_notes"]
    assert "notes" in schema(tmp_path / DB_NAME)


def test_a_failing_migration_leaves_the_database_as_it_was(tmp_path, monkeypatch) -> None:
    Store(tmp_path).close()

    def m007_broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half (x TEXT)")
        raise sqlite3.OperationalError("broken migration")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, m007_broken])
    with pytest.raises(sqlite3.OperationalError, match="broken migration"):
        Store(tmp_path)
    assert "half" not in schema(tmp_path / DB_NAME)
    assert applied(tmp_path / DB_NAME) == NAMES


def test_an_index_written_before_migrations_is_upgraded_not_rebuilt(tmp_path, fake_embedder) -> None:
    corpus = copy_samples(tmp_path / "corpus")
    settings = Settings(corpus=corpus, data=tmp_path / "data", progress=False)
    first = Engine(settings, embedder=fake_embedder).index(progress=False)
    db = tmp_path / "data" / DB_NAME
    with sqlite3.connect(db) as c:  # what the newsdesk before migrations left: its schema, no `_migrations`
        generation = c.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0]
        c.execute("DROP TABLE _migrations")
    old = tmp_path / "old"
    old.mkdir()
    with sqlite3.connect(old / DB_NAME) as c:
        c.executescript(FIXTURE.read_text())
    assert schema(db) == schema(old / DB_NAME)

    engine = Engine(settings, embedder=fake_embedder)
    again = engine.index(progress=False)
    assert (again.added, again.updated, again.removed, again.chunks_embedded) == (0, 0, 0, 0)
    assert (again.unchanged, again.documents, again.chunks) == (first.added, first.documents, first.chunks)
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0] == generation
    assert applied(db) == NAMES
    assert engine.status().documents == first.documents
