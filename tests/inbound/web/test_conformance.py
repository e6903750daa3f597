"""Third-party conformance tools against the app served over real HTTP (uvicorn).

scim2-tester must report every check SUCCESS, and scim-sanity's probe must end with nothing
failed and no errors.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from httpx2 import Client
from scim2_cli.session import describe_server
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from scheduler.composition import Runtime
from tests.support.live_app import serve

pytestmark = pytest.mark.slow


def test_scim2_tester_reports_every_check_success(runtime: Runtime, scim_token: str) -> None:
    headers = {"Authorization": f"Bearer {scim_token}"}
    with serve(runtime) as base, Client(base_url=f"{base}/scim/v2", headers=headers) as http:
        client = SyncSCIMClient(http)
        client.provider = describe_server(client, None, None, None)
        results = check_server(client)
    failures = [
        f"{r.status.name} {r.title}: {r.reason}" for r in results if r.status != Status.SUCCESS
    ]
    assert results and not failures, "\n".join(failures)


def test_scim_sanity_probe_passes_with_nothing_failed(runtime: Runtime, scim_token: str) -> None:
    exe = shutil.which("scim-sanity", path=str(Path(sys.executable).parent))
    assert exe, "scim-sanity is part of the test extra"
    with serve(runtime) as base:
        completed = subprocess.run(
            [
                exe,
                "probe",
                f"{base}/scim/v2",
                "--i-accept-side-effects",
                "--token",
                scim_token,
                "--json-output",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    report = json.loads(completed.stdout)
    failed = [r for r in report["results"] if r["status"] in ("fail", "error")]
    assert report["results"] and not failed, json.dumps(failed, indent=1)
    assert report["summary"]["failed"] == 0 and report["summary"]["errors"] == 0
