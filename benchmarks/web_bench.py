"""Web benchmark (JSON on stdout): the PAM home of a 200-partner book in Debian's headless Chromium.

The program comes from `partnerpilot seed` (650 partners, seed 21: pam-01's book holds exactly 200) with six months
of score snapshots; the server is uvicorn on 127.0.0.1, offline model. After one warm-up load (today's snapshots,
caches), each of `--loads` reloads is timed from navigation start to `pp-ready`, the mark the page sets when its
last card and chart are drawn. Target (issue 16): median <= 500 ms. Needs chromium and chromium-driver.

    python -m benchmarks.web_bench [--loads 15]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import date
from pathlib import Path

from tests.browser.harness import ROOT, browser, measure_ready, prepare_seeded_book, serve

TARGET_MS = 500.0
AS_OF = date(2026, 10, 31)


def run(loads: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="pp-web-bench-") as tmp:
        home = Path(tmp) / "home"
        env = prepare_seeded_book(home, AS_OF, ROOT / "tests" / "fixtures" / "playbooks")
        with serve(home, env, up=False) as server, browser(server.url) as b:
            b.sign_in("pam:pam-01")
            rows = len(b.css(".card-calls tbody tr"))
            report = measure_ready(b, loads)
    return {"benchmark": "web_pam_home", "book_partners": 200, "call_list_rows": rows, **report,
            "target_ms": TARGET_MS, "meets_target": report["ready_ms_median"] <= TARGET_MS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=15)
    args = parser.parse_args()
    print(json.dumps(run(args.loads), indent=2))


if __name__ == "__main__":
    main()
