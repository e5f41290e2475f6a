"""The exact locks the environments install from: every pin inside pyproject.toml's ranges, and named in provenance."""

import re
import shutil
import tomllib
from pathlib import Path

import keras
import pytest
from packaging.requirements import Requirement

from supermask_lib.experiment.provenance import installed_lock

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)$")


def _pins(lock):
    pins = {}
    for line in (ROOT / "requirements" / lock).read_text().splitlines():
        if line and not line.startswith("#"):
            match = PIN.match(line)
            assert match, f"{lock}: {line!r} is not an exact pin"
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return pins


@pytest.mark.parametrize("extra, others", [("tf", ("report", "test")), ("jax", ("report", "test")), ("torch", ("test",))])
def test_each_lock_pins_every_requirement_inside_its_range(extra, others):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *(r for name in (extra, *others)
                                         for r in project["optional-dependencies"][name])]
    pins = _pins(f"lock-{extra}.txt")
    for text in wanted:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate({"platform_machine": "x86_64"}):
            continue
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        assert name in pins, f"lock-{extra}.txt has no pin for {text}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (text, pins[name])


def test_the_torch_lock_is_the_cpu_build_beside_the_tf_locks_pins():
    """PyTorch's CPU build (PyPI's CUDA wheel needs GBs of nvidia-* packages), and every shared pin lock-tf.txt's."""
    torch, tf = _pins("lock-torch.txt"), _pins("lock-tf.txt")
    assert torch["torch"].endswith("+cpu"), torch["torch"]
    assert [name for name in torch if name.startswith(("nvidia-", "cuda-", "triton"))] == []
    assert {name: (pin, tf[name]) for name, pin in torch.items() if name in tf and tf[name] != pin} == {}
    assert f"torch=={torch['torch']}" in (ROOT / "requirements" / "torch-cpu.txt").read_text().splitlines()


def test_provenance_names_the_lock_an_environment_was_installed_from(tmp_path):
    assert installed_lock(tmp_path) is None  # installed from the ranges: no lock to name
    shutil.copy(ROOT / "requirements" / "lock-jax.txt", tmp_path / "supermask-lock.txt")
    assert installed_lock(tmp_path)["matches"] == "requirements/lock-jax.txt"
    with open(tmp_path / "supermask-lock.txt", "a") as lock:
        lock.write("extra==1.0\n")  # a lock the checkout no longer has
    recorded = installed_lock(tmp_path)
    assert recorded["matches"] is None and len(recorded["sha256"]) == 64


def test_the_running_environment_names_the_lock_make_installed_it_from():
    """``make`` copies the lock into the venv it installs (.venv, .venv-torch): a run's provenance names it."""
    recorded = installed_lock()
    if recorded is None:
        pytest.skip("this environment was not installed by make from a lock (a CUDA build, or by hand)")
    assert recorded["matches"] is not None, recorded  # the checkout's lock has not moved on since the install
    if keras.backend.backend() == "torch":  # only .venv-torch has PyTorch
        assert recorded["matches"] == "requirements/lock-torch.txt", recorded
