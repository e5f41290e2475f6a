"""The suite's worker groups: under ``make test``'s pytest-xdist, tests that share a costly fixture run on one worker."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SAMPLE = '''
import pytest


@pytest.fixture(scope="module")
def trained():
    return object()


@pytest.mark.parametrize("i", range(4))
def test_reads_the_shared_run(trained, i):
    pass


@pytest.mark.parametrize("i", range(4))
def test_alone(tmp_path, i):
    pass
'''


def test_tests_under_a_module_fixture_share_one_worker_and_the_rest_spread(tmp_path):
    (tmp_path / "conftest.py").write_text("from tests.conftest import pytest_itemcollected  # noqa: F401\n")
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    process = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v",
                              "-p", "no:cacheprovider", "-o", "addopts=", str(tmp_path)],
                             capture_output=True, text=True, timeout=300, cwd=tmp_path,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    ran = re.findall(r"\[(gw\d)\] .*PASSED .*::(test_\w+)\[(\d)\](@\S+)?", process.stdout)
    assert len(ran) == 8, process.stdout[-3000:]
    shared = {(worker, group) for worker, name, _, group in ran if name == "test_reads_the_shared_run"}
    assert shared == {(next(iter(shared))[0], "@test_sample")}  # one worker, the module's group
    assert all(not group for _, name, _, group in ran if name == "test_alone")  # no group: any free worker
