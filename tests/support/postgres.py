"""The shared PostgreSQL server the tests use, and a private schema per test on it.

Tests never drop or alter a schema they did not create: several people and processes run tests
against the same server at once, each in schemas of their own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

PG_DSN = os.environ.get("SCIM_SYNC_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_problem(dsn: str = PG_DSN) -> str | None:
    """Why the server cannot be used, or None when it answers."""
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc)
    return None


@contextmanager
def pg_schema(dsn: str, prefix: str = "t") -> Iterator[str]:
    """A PostgreSQL schema of its own for one test or benchmark, dropped afterwards; yields a
    database URL whose connections use it."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{dsn}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
