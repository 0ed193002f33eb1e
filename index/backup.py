"""Backups of a data folder that can be taken while the bot answers and an index run writes, and their restore.

A backup is one generation of the index (index/store.py): a copy of the SQLite database made with SQLite's
online backup API (one consistent read of every page, so never half a transaction), plus the generation files
its manifest names (the base's `vectors-<base>.faiss` and `bm25-<base>/`, the generation's `delta-<gen>/`), and
`backup.json` describing it. No lock is taken: readers never block a writer. A writer keeps a generation's
files while that generation or the next is current, so a copy can only miss them when two index runs commit
during it; the copied files are checked against the manifest's checksums, and the backup is simply taken again
(after a few tries, under the writer lock, which waits for the running index run). Derived files are left out:
`models/` (the int8 build, made again or copied from the per-user cache on first use) and `index.lock`.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from .indexer import lock_for, verify
from .errors import IndexDamaged, IndexProblem
from .store import DB_NAME, FORMAT_VERSION, Store, copy_database, fsync_dir, holds_index

log = logging.getLogger(__name__)

BACKUP_FILE = "backup.json"
BACKUP_FORMAT = 1
ATTEMPTS = 4  # lock-free tries before the last one under the writer lock


class BackupError(IndexProblem):
    """A backup or restore the user must fix (no index, target not empty, not a backup, damaged copy)."""


@dataclass
class BackupInfo:
    """What a backup holds (written as backup.json; returned by `backup` and `restore`)."""

    generation: int
    base: int
    documents: int
    chunks: int
    model: str | None
    index_format: int | None
    created_at: str
    newsdesk: str
    files: list[str]
    bytes: int
    attempts: int = 1
    seconds: float = 0.0

    def to_json(self) -> dict:
        return asdict(self)


def backup(data: Path, dest: Path, *, lock_timeout: float = 600.0) -> BackupInfo:
    """Copy the index in `data` to the folder `dest` (new, or empty) while readers and writers carry on."""
    t0 = time.perf_counter()
    data, dest = Path(data), Path(dest)
    if not (data / DB_NAME).is_file():
        raise BackupError(f"no index in {data} to back up (no {DB_NAME})")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(f"{dest} is not an empty folder; back up into a new folder")
    work = dest if dest.exists() else dest.parent / f".{dest.name}.partial-{os.getpid()}"
    try:
        for attempt in range(1, ATTEMPTS + 2):
            locked = attempt > ATTEMPTS
            lock = lock_for(data) if locked else None
            if lock is not None:
                log.info("generation files kept changing under the backup; waiting for the index lock")
                lock.acquire(timeout=lock_timeout)
            try:
                info = _copy_generation(data, work)
            except (IndexDamaged, OSError) as exc:
                if locked:
                    raise BackupError(f"could not back up {data}: {exc}") from exc
                log.info("backup try %d: the generation changed during the copy (%s); again", attempt, exc)
                _empty(work)
                continue
            finally:
                if lock is not None:
                    lock.release()
            info.attempts = attempt
            break
        info.seconds = time.perf_counter() - t0
        _write_json(work / BACKUP_FILE, info.to_json())
        fsync_dir(work)
        if work != dest:
            os.replace(work, dest)
    except BaseException:
        if work != dest:
            shutil.rmtree(work, ignore_errors=True)
        else:
            _empty(dest)
        raise
    log.info("backed up generation %d of %s to %s (%d documents, %d chunks)", info.generation, data, dest,
             info.documents, info.chunks)
    return info


def restore(src: Path, data: Path, *, lock_timeout: float = 10.0) -> BackupInfo:
    """Copy the backup in `src` into the data folder `data`, which must hold no index (stop the bot and move the
    old folder aside first, or restore into a new one). The copy is checked before it takes the folder's place."""
    t0 = time.perf_counter()
    src, data = Path(src), Path(data)
    try:
        info = BackupInfo(**{k: v for k, v in json.loads((src / BACKUP_FILE).read_text(encoding="utf-8")).items()
                             if k in BackupInfo.__dataclass_fields__})
    except FileNotFoundError:
        raise BackupError(f"{src} is not a newsdesk backup (no {BACKUP_FILE})") from None
    except (ValueError, TypeError) as exc:
        raise BackupError(f"{src / BACKUP_FILE} is unreadable: {exc}") from None
    if holds_index(data):
        raise BackupError(f"{data} already holds an index; restore into a new data folder (--data), or stop the "
                          "bot and move this one aside first")
    lock = lock_for(data)
    lock.acquire(timeout=lock_timeout)
    work = data / f".tmp-restore-{os.getpid()}"
    try:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        for name in info.files:
            _copy(src / name, work / name)
        store = Store(work)
        try:
            if int(store.meta().get("format_version") or FORMAT_VERSION) == FORMAT_VERSION:
                verify(store)
            else:  # an older newsdesk's backup: its files are what that version wrote; the next run rebuilds them
                log.warning("the backup in %s holds index format %s, this newsdesk reads %d: the next "
                            "`newsdesk index` rebuilds the index from the corpus", src,
                            store.meta().get("format_version"), FORMAT_VERSION)
        except IndexDamaged as exc:
            raise BackupError(f"the backup in {src} is damaged: its files do not match their checksums") from exc
        finally:
            store.close()
        for journal in ("-wal", "-shm"):  # of an empty database a reader made (`sources`): not the restored one's
            Path(str(data / DB_NAME) + journal).unlink(missing_ok=True)
        for p in sorted(work.iterdir(), key=lambda p: p.name == DB_NAME):  # the database, naming them, last
            os.replace(p, data / p.name)
        fsync_dir(data)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        lock.release()
    info.seconds = time.perf_counter() - t0
    log.info("restored generation %d from %s into %s", info.generation, src, data)
    return info


def _copy_generation(data: Path, work: Path) -> BackupInfo:
    """One try: the database through SQLite's backup API, then the files its manifest names, checked against
    the manifest's checksums (IndexDamaged or OSError when a writer replaced them meanwhile)."""
    work.mkdir(parents=True, exist_ok=True)
    copy_database(data, work)
    store = Store(work)
    try:
        meta = store.meta()
        gen = store.generation()
        base = int(meta.get("base") or gen)
        names = [store.faiss_file(base).name, store.bm25_dir(base).name, store.delta_dir(gen).name] if gen else []
        for name in names:
            _copy(data / name, work / name)
        verify(store)
        documents, chunks = store.counts()
    finally:
        store.close()
    for leftover in ("-wal", "-shm"):  # the copy's own journal, empty once closed
        Path(str(work / DB_NAME) + leftover).unlink(missing_ok=True)
    files = [DB_NAME, *names]
    size = sum(f.stat().st_size for f in work.rglob("*") if f.is_file())
    return BackupInfo(generation=gen, base=base, documents=documents, chunks=chunks, model=meta.get("model"),
                      index_format=int(meta["format_version"]) if meta.get("format_version") else None,
                      created_at=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
                      newsdesk=_version(), files=files, bytes=size)


def _copy(src: Path, dst: Path) -> None:
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copy2(src, dst)


def _empty(folder: Path) -> None:
    for p in folder.iterdir() if folder.is_dir() else []:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def _write_json(path: Path, obj: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())


def _version() -> str:
    try:
        return metadata.version("newsdesk")
    except metadata.PackageNotFoundError:
        return "unknown"
