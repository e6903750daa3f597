"""Whether the suite runs in CI, where a missing service is a failure rather than a skip.

A developer without slapd, chromium or PostgreSQL still gets a useful run (those tests skip);
CI sets ``CI=true`` so that a broken image cannot pass by skipping the tests that matter.
"""

from __future__ import annotations

import os

IN_CI = os.environ.get("CI", "").lower() == "true"
