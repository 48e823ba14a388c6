"""The coverage-guided fuzzer (tests/fuzz/fuzz_decoder.py) runs a short budget on every test run.

FLOWZIP_FUZZ_SECONDS sets the budget (45 s by default). A crash, a hang past the time limit of one input or an
allocation past the memory limit fails the test with libFuzzer's report; the input that did it is left in the
test's folder, and belongs in tests/fuzz_corpus once the bug is fixed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris (a dev extra on Linux x86-64) is not installed")

FUZZER = Path(__file__).resolve().parent / "fuzz" / "fuzz_decoder.py"
SECONDS = int(os.environ.get("FLOWZIP_FUZZ_SECONDS", "45"))


def test_decoder_survives_coverage_guided_fuzzing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    r = subprocess.run(
        [
            sys.executable,
            str(FUZZER),
            str(corpus),
            f"-max_total_time={SECONDS}",
            "-timeout=60",
            "-rss_limit_mb=4096",
            "-print_final_stats=1",
            f"-artifact_prefix={tmp_path}/",
        ],
        capture_output=True,
        text=True,
        timeout=SECONDS + 600,
    )
    report = r.stderr[-6000:]
    assert r.returncode == 0, report
    runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", r.stderr)
    assert runs and int(runs.group(1)) > 100, report
