"""The SQLite helper: pragmas on every connection, one writer connection per process and file, thread safety."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest

from workbench._sqlite import (
    SharedConnection,
    SqliteOptions,
    SqliteWriter,
    connect,
    release_writer,
    shared_writer,
)

NORMAL = SqliteOptions()


def _pragma(conn: sqlite3.Connection, name: str) -> object:
    return conn.execute(f"PRAGMA {name}").fetchone()[0]


def test_connect_applies_the_pragmas(tmp_path: Path) -> None:
    conn = connect(
        tmp_path / "a.db", SqliteOptions(synchronous="FULL", busy_timeout_s=12.5, foreign_keys=True)
    )
    try:
        assert _pragma(conn, "journal_mode") == "wal"
        assert _pragma(conn, "synchronous") == 2  # FULL
        assert _pragma(conn, "busy_timeout") == 12_500
        assert _pragma(conn, "foreign_keys") == 1
        assert conn.isolation_level is None  # autocommit: callers BEGIN themselves
    finally:
        conn.close()
    conn = connect(tmp_path / "b.db", NORMAL)
    try:
        assert (_pragma(conn, "synchronous"), _pragma(conn, "foreign_keys")) == (1, 0)  # NORMAL, off
    finally:
        conn.close()
    memory = connect(None, NORMAL)
    assert _pragma(memory, "journal_mode") == "memory"  # WAL does not apply to in-memory databases
    memory.close()


def test_one_writer_connection_per_process_and_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    a = shared_writer(tmp_path / "w.db", NORMAL)
    b = shared_writer(tmp_path / "sub" / ".." / "w.db", NORMAL)  # the same file, spelled otherwise
    other = shared_writer(tmp_path / "other.db", NORMAL)
    try:
        assert a is b and a is not other
        assert a.connection() is b.connection() and isinstance(a.connection(), SharedConnection)
        assert _pragma(a.connection(), "journal_mode") == "wal"
        with pytest.raises(ValueError, match="already open"):
            shared_writer(tmp_path / "w.db", SqliteOptions(synchronous="FULL"))
        conn = a.connection()
        conn.close()  # what SQLAlchemy's pool does on dispose: the writer keeps its connection open
        assert conn.execute("SELECT 1").fetchone() == (1,)
        release_writer(a)
        assert b.connection() is conn  # b still holds it
    finally:
        release_writer(b)
        release_writer(other)
    with pytest.raises(sqlite3.ProgrammingError):
        conn.execute("SELECT 1")  # the last release closed it
    again = shared_writer(tmp_path / "w.db", NORMAL)
    assert again is not a
    release_writer(again)


def test_transactions_commit_roll_back_and_serialise_threads(tmp_path: Path) -> None:
    writer = shared_writer(tmp_path / "t.db", NORMAL)
    try:
        with writer.locked() as conn:
            conn.execute("CREATE TABLE n (v INTEGER)")
            conn.execute("INSERT INTO n VALUES (0)")
        with pytest.raises(RuntimeError), writer.transaction() as conn:
            conn.execute("UPDATE n SET v = 100")
            raise RuntimeError("boom")
        assert not writer.connection().in_transaction

        def bump() -> None:
            for _ in range(50):
                with writer.transaction() as conn:  # a read-modify-write: lost updates if not serialised
                    (value,) = conn.execute("SELECT v FROM n").fetchone()
                    conn.execute("UPDATE n SET v = ?", (value + 1,))

        threads = [threading.Thread(target=bump) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        reader = sqlite3.connect(tmp_path / "t.db")
        assert reader.execute("SELECT v FROM n").fetchone() == (200,)
        reader.close()
    finally:
        release_writer(writer)


def _child_writes(path: str, parent_conn_id: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    writer = shared_writer(path, NORMAL)  # inherited from the parent by fork
    conn = writer.connection()
    with writer.transaction() as c:
        c.execute("INSERT INTO log VALUES ('child')")
    out.put(id(conn) != parent_conn_id)


def test_a_forked_child_opens_its_own_connection(tmp_path: Path) -> None:
    path = str(tmp_path / "f.db")
    writer = shared_writer(path, NORMAL)
    try:
        with writer.transaction() as conn:
            conn.execute("CREATE TABLE log (who TEXT)")
        ctx = multiprocessing.get_context("fork")
        out = ctx.Queue()
        child = ctx.Process(target=_child_writes, args=(path, id(writer.connection()), out))
        child.start()
        child.join(60)
        assert child.exitcode == 0 and out.get(timeout=5) is True
        with writer.transaction() as conn:  # the parent's connection still works
            conn.execute("INSERT INTO log VALUES ('parent')")
            assert sorted(r[0] for r in conn.execute("SELECT who FROM log")) == ["child", "parent"]
    finally:
        release_writer(writer)


def test_a_private_in_memory_writer() -> None:
    writer = SqliteWriter(None, NORMAL)
    assert writer.memory
    with writer.transaction() as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
    with writer.locked() as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)
    writer.close()
