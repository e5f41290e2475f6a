import getpass
import os
import shutil
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# JAX compiles each test's tiny networks anew, and compiling is most of a JAX test's time. Its persistent
# compilation cache keeps every executable by its program's hash (and JAX's version), so the arms, runs
# and processes of the suite that compile the same program (the crash children, a resumed run) load it
# instead: a test that trains the same run three times took a third of the time in one measurement. Set
# before JAX is imported; the worker processes and every child share the folder.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(tempfile.gettempdir(), f"supermask-tests-jax-cache-{getpass.getuser()}"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")  # the tests' programs compile fast
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


CHEAP_SHARED = {"data_dir"}  # shared fixtures that cost nothing to build twice


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {keras.backend.backend()}"


def pytest_itemcollected(item):
    """Tests that share a costly fixture (the built book, a module's trained run) form one xdist group.

    ``make test`` runs a worker per core with ``--dist loadgroup``: a group runs
    on one worker, so what its tests share is built once. A test under a
    session fixture of ours (``built_book``) joins that fixture's group, one
    under a module fixture its module's group; the rest go to whichever worker
    is free. (Marked as each test is collected: xdist reads the groups in its
    own ``pytest_collection_modifyitems``.)
    """
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return
    shared = {name: defs[-1].scope for name, defs in info.name2fixturedefs.items()
              if defs and defs[-1].baseid and defs[-1].scope in ("session", "module") and name not in CHEAP_SHARED}
    sessions = sorted(name for name, scope in shared.items() if scope == "session")
    if sessions or shared:
        item.add_marker(pytest.mark.xdist_group("+".join(sessions) if sessions else item.module.__name__))


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    yield
    keras.backend.clear_session(free_memory=False)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def data_dir():
    """The offline datasets: $SUPERMASK_DATA_DIR, else ../shared/datasets beside the checkout."""
    configured = os.environ.get("SUPERMASK_DATA_DIR")
    path = Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared" / "datasets"
    if not (path / "mnist.npz").exists():
        pytest.skip(f"offline datasets not found at {path}; set SUPERMASK_DATA_DIR")
    return path


@pytest.fixture(scope="session")
def built_book(tmp_path_factory, data_dir):
    """The whole report built from the tiny profile, once per session (tests/test_book.py and
    tests/test_book_legibility.py read it): ``(html_dir, runs_dir)``."""
    from supermask_lib.report import pipeline as report

    work = tmp_path_factory.mktemp("report")
    book = work / "book"
    shutil.copytree(ROOT / "book", book, ignore=shutil.ignore_patterns("_build", "results"))
    report.build_report("tiny", root=ROOT, book_dir=book, runs_dir=work / "runs", data_dir=data_dir)  # -W: a warning
    return book / "_build" / "html", work / "runs"
