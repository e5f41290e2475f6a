"""Provenance: the commit and the settings that change the kernels, as a run records them."""


def test_a_copied_tree_names_its_commit(monkeypatch):
    """A device machine's copy of the tree has no .git of its own: the copier names the commit."""
    from supermask_lib.provenance import git_revision

    monkeypatch.delenv("SUPERMASK_GIT_REVISION", raising=False)
    here = git_revision()
    monkeypatch.setenv("SUPERMASK_GIT_REVISION", "0123abc")
    assert git_revision() == "0123abc" != here


def test_settings_that_change_the_kernels_are_recorded(monkeypatch):
    from supermask_lib.provenance import environment

    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    assert environment()["numerics_env"]["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    assert "TF_ENABLE_ONEDNN_OPTS" not in environment()["numerics_env"]
