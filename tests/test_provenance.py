"""Provenance: the commit and the settings that change the kernels, as a run records them."""

import os

import keras
import pytest


def test_a_copied_tree_names_its_commit(monkeypatch):
    """A device machine's copy of the tree has no .git of its own: the copier names the commit."""
    from supermask_lib.experiment.provenance import git_revision

    monkeypatch.delenv("SUPERMASK_GIT_REVISION", raising=False)
    here = git_revision()
    monkeypatch.setenv("SUPERMASK_GIT_REVISION", "0123abc")
    assert git_revision() == "0123abc" != here


@pytest.mark.parametrize("model, flags, expected", [
    ("Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz", "fpu sse2 avx2 avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile",
     "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz (avx2, avx512f, avx512_vnni, avx512_bf16, amx_tile)"),
    ("AMD EPYC", "fpu avx2 avx512f avx512bw avx512_vnni avx512_bf16", "AMD EPYC (avx2, avx512f, avx512_vnni, avx512_bf16)"),
    ("Intel(R) Core(TM) i5-4590", "fpu sse2 sse4_2",
     "Intel(R) Core(TM) i5-4590 (none of avx2, avx512f, avx512_vnni, avx512_bf16, amx_tile)"),
])
def test_a_run_names_its_cpu_and_the_extensions_that_pick_its_kernels(tmp_path, model, flags, expected):
    """Read from the first processor's block of /proc/cpuinfo (the others repeat it)."""
    from supermask_lib.experiment.provenance import cpu_description

    block = f"processor\t: {{n}}\nvendor_id\t: x\nmodel name\t: {model}\nflags\t\t: {flags}\n"
    (tmp_path / "cpuinfo").write_text(block.format(n=0) + "\n" + block.format(n=1).replace(flags, "fpu"))
    assert cpu_description(tmp_path / "cpuinfo") == expected


def test_settings_that_change_the_kernels_are_recorded(monkeypatch):
    from supermask_lib.experiment.provenance import environment

    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    assert environment()["numerics_env"]["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    assert "TF_ENABLE_ONEDNN_OPTS" not in environment()["numerics_env"]


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="oneDNN is TensorFlow's")
@pytest.mark.parametrize("setting, expected", [(None, "1"), ("0", "0")])
def test_onednn_is_asked_for_unless_the_user_chose(setting, expected):
    """The library sets TF_ENABLE_ONEDNN_OPTS=1 before TensorFlow loads (fast kernels on CPUs without AVX-512),
    leaves a user's choice alone, and says which in the run's provenance and first lines."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    env.update({"TF_CPP_MIN_LOG_LEVEL": "3", **({} if setting is None else {"TF_ENABLE_ONEDNN_OPTS": setting})})
    env.pop("SUPERMASK_ONEDNN_SET_BY", None)
    # The harness chooses, and a child process it starts (a notebook's kernel) still names the harness.
    code = ("import os, subprocess, sys, supermask_lib.experiment; from supermask_lib.experiment import provenance; "
            "child = \"from supermask_lib.experiment import provenance; print(provenance.engine_description())\"; "
            "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], provenance.environment()['onednn'], "
            "provenance.engine_description(), provenance.environment()['onednn_chosen_by'], "
            "subprocess.run([sys.executable, '-c', child], capture_output=True, text=True).stdout.strip(), sep='|')")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    value, state, description, chooser, child = out.stdout.strip().splitlines()[-1].split("|")
    assert value == expected and state == str(expected == "1")
    assert description == child == ("tensorflow with oneDNN on (supermask_lib's default)" if setting is None else
                                    "tensorflow with oneDNN off (TF_ENABLE_ONEDNN_OPTS=0 set by the user)")
    assert chooser == ("supermask_lib's default" if setting is None else "TF_ENABLE_ONEDNN_OPTS=0 set by the user")


def test_the_library_alone_changes_no_environment():
    """``import supermask_lib`` and its layers leave TensorFlow's oneDNN default alone: only the harness chooses."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("TF_ENABLE_ONEDNN_OPTS", "SUPERMASK_ONEDNN_SET_BY")}
    code = ("import os, supermask_lib; supermask_lib.MaskedConv2D; "
            "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'), os.environ.get('SUPERMASK_ONEDNN_SET_BY'))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "None None", out.stderr[-2000:]


@pytest.mark.parametrize("environ, expected", [
    ({}, "TensorFlow's default"),
    ({"TF_ENABLE_ONEDNN_OPTS": "0"}, "TF_ENABLE_ONEDNN_OPTS=0 set by the user"),
    ({"TF_ENABLE_ONEDNN_OPTS": "1", "SUPERMASK_ONEDNN_SET_BY": "supermask_lib"}, "supermask_lib's default"),
    # inherited marker, but the user turned oneDNN off afterwards: the user chose
    ({"TF_ENABLE_ONEDNN_OPTS": "0", "SUPERMASK_ONEDNN_SET_BY": "supermask_lib"}, "TF_ENABLE_ONEDNN_OPTS=0 set by the user"),
])
def test_who_chose_onednn_is_read_from_the_environment(environ, expected):
    from supermask_lib.experiment.provenance import onednn_chooser

    assert onednn_chooser(environ) == expected
