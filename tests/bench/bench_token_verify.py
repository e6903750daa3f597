"""What a request pays to check its bearer token, as ratios against baselines in the same run.

    .venv/bin/python -m tests.bench.bench_token_verify [--pg postgresql://…] [--n 20000]

Baselines: one SHA-256 of the secret (the floor every check pays) and an uncached check (one
database lookup per request). The figure that matters is the cached check, which the issue
wants in microseconds. Each figure is the best of five rounds.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from inbound.auth import SecretKind, TokenStore
from scheduler import db
from tests.support import pg_schema


def per_call_us(fn: Callable[[], object], n: int, rounds: int = 5) -> float:
    """Best of ``rounds``: the machine is shared, and the minimum is the least disturbed."""
    for _ in range(min(n, 1000)):
        fn()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n * 1e6)
    return best


def measure(url: str, n: int) -> dict[str, float]:
    engine = db.make_engine(url)
    db.upgrade("staging", engine)
    clock = lambda: datetime.now(UTC)  # noqa: E731
    cached = TokenStore(engine, clock=clock)
    uncached = TokenStore(engine, clock=clock, cache_seconds=0)
    secret = cached.issue(SecretKind.SCIM, timedelta(hours=10)).secret
    for i in range(200):  # a table with some history in it
        cached.issue(SecretKind.SCIM, timedelta(hours=10), label=f"bench {i}")
    try:
        return {
            "sha256": per_call_us(lambda: hashlib.sha256(secret.encode()).hexdigest(), n),
            "cached": per_call_us(lambda: cached.verify(secret, SecretKind.SCIM), n),
            "uncached": per_call_us(lambda: uncached.verify(secret, SecretKind.SCIM), n // 10),
        }
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", help="also measure on this PostgreSQL DSN, in a fresh schema")
    parser.add_argument("--n", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        runs = {"sqlite": measure(f"sqlite:///{Path(folder) / 'bench.db'}", args.n)}
    if args.pg:
        with pg_schema(args.pg, "bench") as url:
            runs["postgresql"] = measure(url, args.n)
    for name, r in runs.items():
        print(
            f"{name:10s} sha256 {r['sha256']:6.2f} µs | cached verify {r['cached']:6.2f} µs "
            f"= {r['cached'] / r['sha256']:5.1f}x sha256 | uncached {r['uncached']:7.1f} µs "
            f"= {r['uncached'] / r['cached']:5.0f}x cached"
        )


if __name__ == "__main__":
    main()
