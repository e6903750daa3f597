"""Benchmark: users applied into slapd by the reconciler vs a raw one-connection ldap3 loop.

Everything runs in one process against one throwaway slapd (nosync, indexed as a production
directory should be): N creates then N modifies (a title change), four ways, each in its own
subtree:

- raw: the baseline, one plain SYNC connection writing blindly, one operation after the other;
- connector: ``LdapTarget.apply`` from as many threads as it has connections, without the
  ledger and without ``prepare`` (so one apply at a time per connection: finds the entry,
  compares, writes, anchors by entryUUID);
- reconciler: ``run_once`` end to end (ledger → load desired state → ``prepare``: read the batch
  ahead and send its writes pipelined → apply → record outcome);
- run loop alone: ``run_once`` with a target that does nothing, i.e. the ledger's own ceiling.

The machine is shared, so its load drifts: the work is cut into slices and the four ways take
turns slice by slice, each rate summed over all its slices. Rates are printed with their ratio to
the raw loop; nothing asserts a time.
Run:  .venv/bin/python -m tests.bench.bench_ldap [--users 5000] [--connections 8] [--slices 10]

AD mode (``--ad``): the same against the shared Samba AD DC over LDAPS, the baseline being the raw
loop of :mod:`tests.bench.bench_ad_raw` (adds with a first password, then title modifies), against
the reconciler's ``run_once`` with SCIM_SYNC_LDAP_DIRECTORY=active_directory; ``--modify-rounds R``
modifies every user R times, a new title each round (a modify costs the DC about a millisecond,
so a round is over in seconds, and more rounds average the shared machine's load out);
``--full-users N`` then stages and applies N more AD users and times ``scim-sync reconcile
--full`` over them.
Run:  .venv/bin/python -m tests.bench.bench_ldap --ad [--users 2000] [--slices 10] [--modify-rounds 3]
      [--full-users 10000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import ldap3

from connectors.ldap.settings import LdapSettings
from connectors.ldap.target import LdapTarget
from inbound.database.store import Actor
from inbound.schema import USER_TYPE
from reconcile.memory_target import MemoryTarget
from reconcile.model import Desired, DesiredIdentity
from reconcile.ports import Action, Applied
from reconcile.runner import Reconciler
from scheduler.composition import Runtime, compose, utcnow
from scheduler.settings import Settings
from tests.bench import bench_ad_raw
from tests.bench.bench_reconcile import full_reconcile
from tests.support import entra_user, patch_body
from tests.support.ad_helpers import ad_settings
from tests.support.directory import fresh_base, settings_for
from tests.support.samba_dc import SambaDc, shared_dc
from tests.support.slapd import ROOT_DN, ROOT_PW, SlapdServer

PERSON: dict[str, Any] = {
    "email": "c@example.com",
    "given_name": "Given",
    "family_name": "Family",
    "display_name": "User",
    "title": "Engineer",
    "department": "Research",
}


class RawLoop:
    """Adds then modifies over one plain SYNC connection: the fastest simple client."""

    def __init__(self, url: str) -> None:
        self.conn = ldap3.Connection(
            ldap3.Server(url, get_info=ldap3.NONE),
            ROOT_DN,
            ROOT_PW,
            auto_bind=True,
            check_names=False,
        )
        self.people = f"ou=people,{fresh_base(url)}"
        self.conn.add(self.people, ["organizationalUnit"], {"ou": "people"})

    def create(self, numbers: range) -> None:
        for i in numbers:
            user_id = f"R{i:06d}"
            attributes = {
                "uid": user_id,
                "cn": f"User {user_id}",
                "sn": "Family",
                "givenName": "Given",
                "displayName": f"User {user_id}",
                "mail": f"{user_id.lower()}@example.com",
                "title": "Engineer",
                "departmentNumber": "Research",
                "employeeNumber": user_id,
            }
            classes = ["inetOrgPerson", "organizationalPerson", "person", "top"]
            assert self.conn.add(f"uid={user_id},{self.people}", classes, attributes)

    def modify(self, numbers: range) -> None:
        for i in numbers:
            change = {"title": [(ldap3.MODIFY_REPLACE, ["Lead"])]}
            assert self.conn.modify(f"uid=R{i:06d},{self.people}", change)

    def close(self) -> None:
        self.conn.unbind()


class ConnectorAlone:
    """The target called from ``connections`` threads at once, as the run loop calls it."""

    def __init__(self, settings: LdapSettings) -> None:
        self.target = LdapTarget(settings)
        self.pool = ThreadPoolExecutor(settings.connections)
        self.anchors: dict[int, str | None] = {}

    def _desired(self, i: int, **changes: Any) -> DesiredIdentity:
        return replace(DesiredIdentity(f"s{i}", 1, f"C{i:06d}", **PERSON), **changes)

    def create(self, numbers: range) -> None:
        applied = self.pool.map(lambda i: self.target.apply(self._desired(i), None), numbers)
        self.anchors.update(zip(numbers, (a.anchor for a in applied), strict=True))

    def modify(self, numbers: range) -> None:
        def change(i: int) -> Applied:
            return self.target.apply(self._desired(i, generation=2, title="Lead"), self.anchors[i])

        assert {a.action for a in self.pool.map(change, numbers)} == {Action.UPDATED}

    def close(self) -> None:
        self.pool.shutdown()
        self.target.close()


class ThroughReconciler:
    """Users staged through the SCIM store (not timed), then one ``run_once`` (timed)."""

    def __init__(self, runtime: Runtime, target: str, prefix: str) -> None:
        self.runtime, self.target, self.prefix = runtime, target, prefix
        self.actor = Actor("bench")
        self.ids: dict[int, str] = {}
        self.retitle("Lead")

    def retitle(self, title: str) -> None:
        """The title the next modifies write."""
        self.change = patch_body({"op": "replace", "path": "title", "value": title})

    def stage_create(self, numbers: range) -> None:
        for i in numbers:
            body = entra_user(f"{self.prefix}{i:06d}")
            self.ids[i] = self.runtime.store.create(USER_TYPE, body, self.actor).scim_id

    def stage_modify(self, numbers: range) -> None:
        for i in numbers:
            self.runtime.store.patch(USER_TYPE, self.ids[i], self.change, self.actor)

    def create(self, numbers: range) -> None:
        self._run()

    def modify(self, numbers: range) -> None:
        self._run()

    def _run(self) -> None:
        done = self.runtime.reconciler.run_once(only=[self.target]).targets[0]
        assert done.retrying == done.dead == 0 and done.unavailable is None, done
        assert done.applied > 0, done

    def close(self) -> None:
        self.runtime.dispose()


class NoopTarget(MemoryTarget):
    """Applies nothing: what is left is the run loop's and the ledger's own cost. It takes the
    identity store's name, the target the staging store records work for in that runtime."""

    def __init__(self, parallelism: int) -> None:
        super().__init__("identity_store")
        self.parallelism = parallelism

    def apply(self, desired: Desired, anchor: str | None) -> Applied:
        return Applied(Action.UPDATED, anchor or desired.scim_id)


def contenders(url: str, workdir: Path, connections: int) -> dict[str, Any]:
    settings = settings_for(url, fresh_base(url), connections=connections)
    with_ldap = compose(
        Settings(
            database_url=f"sqlite:///{workdir / 'bench.db'}",
            ldap=replace(settings, base_dn=fresh_base(url)),
        )
    )
    alone = compose(Settings(database_url=f"sqlite:///{workdir / 'noop.db'}"))
    alone.reconciler = Reconciler(
        alone.desired, alone.ledger, [NoopTarget(connections)], clock=utcnow
    )
    return {
        "raw ldap3 loop (baseline)": RawLoop(url),
        f"connector, {connections} connections": ConnectorAlone(settings),
        "reconciler run_once": ThroughReconciler(with_ldap, "ldap", "U"),
        "run loop + ledger, no-op target": ThroughReconciler(alone, "identity_store", "N"),
    }


class RawAdLoop:
    """The AD baseline: adds (with a first password) then modifies over one SYNC connection."""

    def __init__(self, dc: SambaDc, ou: str) -> None:
        self.conn = bench_ad_raw.connect(dc)
        self.ou = ou
        self.tag = uuid.uuid4().hex[:5]
        self.title = "Lead"

    def retitle(self, title: str) -> None:
        """The title the next modifies write."""
        self.title = title

    def _dn(self, i: int) -> str:
        return f"CN=User r{self.tag}{i:06d},{self.ou}"

    def create(self, numbers: range) -> None:
        for i in numbers:
            values = bench_ad_raw.attributes(f"r{self.tag}{i:06d}", with_password=True)
            assert self.conn.add(self._dn(i), bench_ad_raw.USER_CLASSES, values), self.conn.result

    def modify(self, numbers: range) -> None:
        for i in numbers:
            change = {"title": [(ldap3.MODIFY_REPLACE, [self.title])]}
            assert self.conn.modify(self._dn(i), change), self.conn.result

    def close(self) -> None:
        self.conn.unbind()


def new_ou(dc: SambaDc) -> str:
    conn = bench_ad_raw.connect(dc)
    name = f"bench{uuid.uuid4().hex[:8]}"
    dn = f"OU={name},{dc.ou('People')}"
    try:
        assert conn.add(dn, ["top", "organizationalUnit"], {"ou": name}), conn.result
    finally:
        conn.unbind()
    return dn


WARM_UP = 30
"""Users the reconciler applies before the timing starts (numbered past any measured one)."""


def ad_contenders(dc: SambaDc, workdir: Path, connections: int) -> dict[str, Any]:
    settings = ad_settings(dc, new_ou(dc), connections=connections)
    with_ad = compose(Settings(database_url=f"sqlite:///{workdir / 'bench.db'}", ldap=settings))
    reconciler = ThroughReconciler(with_ad, "ldap", f"a{uuid.uuid4().hex[:5]}")
    # What the raw loop does before its timing (it connects), and a running worker long
    # before: the containers made, connections open, the domain's password policy read.
    reconciler.stage_create(range(10**6 - WARM_UP, 10**6))
    reconciler.create(range(WARM_UP))
    return {
        "raw ldap3 loop (baseline)": RawAdLoop(dc, new_ou(dc)),
        "reconciler run_once": reconciler,
    }


def measure(
    ways: dict[str, Any], users: int, slices: int, modify_rounds: int = 1
) -> dict[str, tuple[float, float]]:
    """Creates, then ``modify_rounds`` rounds of modifies (each a new title, so every one is a
    change), the ways taking turns slice by slice; rates over all slices and rounds."""
    elapsed = {name: [0.0, 0.0] for name in ways}
    step = max(1, users // slices)
    rounds = [("create", 0, "")] + [("modify", 1, f"Lead {r}") for r in range(modify_rounds)]
    for verb, phase, title in rounds:
        for way in ways.values():
            if title and modify_rounds > 1:
                way.retitle(title)
        for start in range(0, users, step):
            numbers = range(start, min(users, start + step))
            for name, way in ways.items():
                stage = getattr(way, f"stage_{verb}", None)
                if stage is not None:
                    stage(numbers)
                started = time.perf_counter()
                getattr(way, verb)(numbers)
                elapsed[name][phase] += time.perf_counter() - started
    modified = users * modify_rounds
    return {name: (users / add, modified / mod) for name, (add, mod) in elapsed.items()}


def print_rows(rows: dict[str, tuple[float, float]], header: str) -> None:
    raw_add, raw_mod = rows["raw ldap3 loop (baseline)"]
    print(header)
    print(f"{'':34}{'creates/s':>10}{'ratio':>7}{'modifies/s':>12}{'ratio':>7}")
    for name, (add, mod) in rows.items():
        print(f"{name:34}{add:>10,.0f}{add / raw_add:>7.2f}{mod:>12,.0f}{mod / raw_mod:>7.2f}")


def ad_main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-ldap-ad-") as tmp, shared_dc() as dc:
        workdir = Path(tmp)
        ways = ad_contenders(dc, workdir, args.connections)
        try:
            rows = measure(ways, args.users, args.slices, args.modify_rounds)
        finally:
            for way in ways.values():
                way.close()
        header = (
            f"users: {args.users} in {args.slices} interleaved slices, modified "
            f"{args.modify_rounds} time(s); Samba AD DC over LDAPS"
        )
        print_rows(rows, header)
        if args.full_users:
            full = ad_settings(dc, new_ou(dc), connections=args.connections)
            url = f"sqlite:///{workdir / 'full.db'}"
            result = full_reconcile(url, args.full_users, workdir, full)
            print(f"\nfull reconcile of {result['users']:.0f} AD users")
            for key in ("stage_s", "first_apply_s", "full_reconcile_s", "peak_rss_mb", "compared"):
                print(f"  {key:20} {result[key]:10.1f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=LdapSettings().connections)
    parser.add_argument("--slices", type=int, default=10)
    parser.add_argument("--ad", action="store_true", help="into the Samba AD DC (see above)")
    parser.add_argument("--full-users", type=int, default=0, help="AD mode: full reconcile size")
    parser.add_argument(
        "--modify-rounds",
        type=int,
        default=1,
        help="AD mode: modify every user this many times (more samples for a cheap operation)",
    )
    args = parser.parse_args(argv)
    if args.ad:
        ad_main(args)
        return
    with tempfile.TemporaryDirectory(prefix="bench-ldap-") as tmp:
        workdir = Path(tmp)
        server = SlapdServer(workdir / "slapd")
        server.start()
        ways = contenders(server.url, workdir, args.connections)
        try:
            rows = measure(ways, args.users, args.slices)
        finally:
            for way in ways.values():
                way.close()
            server.stop()
    print_rows(
        rows,
        f"users: {args.users} in {args.slices} interleaved slices; slapd nosync; SQLite staging",
    )


if __name__ == "__main__":
    main()
