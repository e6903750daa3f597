"""Benchmark baseline for Active Directory: a raw one-connection ldap3 loop into the Samba DC.

The future reconciler figures for AD are compared with this loop, measured in the same run
(a busy machine slows both alike). It also prints how long providing the DC took when this run
had to provision and start it (0 when it found one running).

Three ways, each over one plain SYNC ldap3 connection on verified LDAPS, one operation after the
other, no reads:
- create: add a user as scim-sync will (sAMAccountName, userPrincipalName, mail, names, title,
  department, uid, employeeID) with a first password, userAccountControl=512 and pwdLastSet=0;
- create without password: the same add without the password attributes (an account that
  stays disabled), to show what the password costs;
- modify: replace ``title`` on each user created above.

Run:  .venv/bin/python -m tests.bench.bench_ad_raw [--users 2000]
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable

import ldap3

from connectors.ldap.active_directory import account_control, passwords
from connectors.ldap.active_directory.passwords import PasswordPolicy
from tests.support.samba_dc import SambaDc, shared_dc

USER_CLASSES = ["top", "person", "organizationalPerson", "user"]


def connect(dc: SambaDc) -> ldap3.Connection:
    server = ldap3.Server(dc.ldaps_url, get_info=ldap3.NONE, tls=dc.tls())
    return ldap3.Connection(server, dc.admin, dc.admin_password, auto_bind=True, check_names=False)


def attributes(user_id: str, with_password: bool) -> dict[str, object]:
    values: dict[str, object] = {
        "sAMAccountName": user_id,
        "userPrincipalName": f"{user_id}@scimsync.test",
        "mail": f"{user_id}@scimsync.test",
        "uid": user_id,
        "employeeID": user_id[:16],
        "givenName": "Given",
        "sn": "Family",
        "displayName": f"User {user_id}",
        "title": "Engineer",
        "department": "Research",
    }
    if with_password:
        password = passwords.generate(PasswordPolicy(), user_id, f"User {user_id}")
        values.update(passwords.password_attributes(password, must_change=True))
        values["userAccountControl"] = str(account_control.for_new_account(enabled=True))
    return values


def timed(work: Callable[[], None], count: int) -> float:
    started = time.perf_counter()
    work()
    return count / (time.perf_counter() - started)


def run(dc: SambaDc, users: int) -> dict[str, float]:
    conn = connect(dc)
    ou_name = f"bench{uuid.uuid4().hex[:8]}"
    ou = f"OU={ou_name},{dc.ou('People')}"
    conn.add(ou, ["top", "organizationalUnit"], {"ou": ou_name})
    tag = uuid.uuid4().hex[:5]
    with_pw = [f"b{tag}{i:06d}" for i in range(users)]
    without_pw = [f"n{tag}{i:06d}" for i in range(users)]

    def create(names: list[str], with_password: bool) -> Callable[[], None]:
        def work() -> None:
            for name in names:
                dn = f"CN=User {name},{ou}"
                if not conn.add(dn, USER_CLASSES, attributes(name, with_password)):
                    raise RuntimeError(f"add failed: {conn.result}")

        return work

    def modify() -> None:
        for name in with_pw:
            dn = f"CN=User {name},{ou}"
            if not conn.modify(dn, {"title": [(ldap3.MODIFY_REPLACE, ["Manager"])]}):
                raise RuntimeError(f"modify failed: {conn.result}")

    try:
        return {
            "create": timed(create(with_pw, True), users),
            "create without password": timed(create(without_pw, False), users),
            "modify (title)": timed(modify, users),
        }
    finally:
        conn.unbind()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the script runs")
    args = parser.parse_args(argv)
    users = 20 if args.smoke else args.users
    with shared_dc() as dc:
        if dc.provision_seconds:
            print(f"DC provisioned and started in {dc.provision_seconds:.1f} s")
        else:
            print("DC found running (not provisioned by this run)")
        rates = run(dc, users)
    baseline = rates["create"]
    print(f"\nraw one-connection ldap3 loop into Samba AD over LDAPS, {users} users")
    print(f"{'operation':<26}{'ops/s':>10}{'x create':>10}")
    for name, rate in rates.items():
        print(f"{name:<26}{rate:>10.0f}{rate / baseline:>10.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
