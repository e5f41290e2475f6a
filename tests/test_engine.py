"""The training engine: the cost rule behind the CPU guard, the backend's multi-device engines, the cosine schedule."""

import keras
import numpy as np
import pytest

from supermask_lib.experiment import engine
from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.experiment.runner import run_experiment
from tests.helpers import StopAfterEpochs
from tests.test_experiment import mask_config, tiny


def test_training_flops_count_every_arm_and_the_step_cap():
    config = ExperimentConfig(model="fc", epochs=4, mix_epochs=2, phases=("mask", "weights", "mix", "equal_cost"))
    assert engine.training_flops(config, 10, 100) == 6 * 10 * 100 * (4 + 4 + 2 + 6)
    assert engine.training_flops(config.replace(max_steps_per_epoch=1, batch_size=20), 10, 100) == 6 * 10 * 20 * 16


def test_multi_gpu_engine_must_exist_on_the_backend(data_dir, tmp_path):
    other = {"tensorflow": "data_parallel", "jax": "mirrored"}.get(keras.backend.backend(), "mirrored")
    with pytest.raises(ValueError, match=rf"distribute='{other}'"):
        run_experiment(tiny(data_dir, distribute=other), tmp_path)
    assert not any(tmp_path.iterdir())  # refused before any work


def test_cosine_schedule_decays_to_zero_and_resumes(data_dir, tmp_path):
    fields = dict(optimizer="sgd", learning_rate=0.2, lr_schedule="cosine", estimator="topk",
                  score_init="he_uniform", augment_crop=2)
    config = mask_config(data_dir, **fields)
    with pytest.raises(StopAfterEpochs.Interrupted):
        run_experiment(config, tmp_path / "resumed", callbacks=[StopAfterEpochs(1)])
    resumed = run_experiment(config, tmp_path / "resumed")
    straight = run_experiment(config, tmp_path / "straight")
    steps = 6  # 270 training images in batches of 50
    epochs = np.arange(3)
    expected = 0.5 * 0.2 * (1 + np.cos(np.pi * epochs * steps / (3 * steps)))  # the rate each epoch starts at
    np.testing.assert_allclose(straight.histories["mask"]["learning_rate"], expected, rtol=1e-5)
    for column in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"):
        np.testing.assert_allclose(resumed.histories["mask"][column], straight.histories["mask"][column], rtol=1e-6)


def test_jax_keeps_compiled_programs_on_disk_unless_the_user_has_chosen(tmp_path, monkeypatch):
    if keras.backend.backend() != "jax":
        assert engine.use_compilation_cache() is None  # nothing to keep on TensorFlow
        return
    import jax

    chosen = jax.config.jax_compilation_cache_dir
    assert chosen  # the suite's own (tests/conftest.py): the user's choice wins
    assert engine.use_compilation_cache() is None and jax.config.jax_compilation_cache_dir == chosen
    try:
        jax.config.update("jax_compilation_cache_dir", None)
        monkeypatch.setenv(engine.COMPILATION_CACHE_ENV, "")
        assert engine.use_compilation_cache() is None and jax.config.jax_compilation_cache_dir is None  # off
        monkeypatch.setenv(engine.COMPILATION_CACHE_ENV, str(tmp_path / "cache"))
        assert engine.use_compilation_cache() == str(tmp_path / "cache")
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "cache")
        jax.config.update("jax_compilation_cache_dir", None)
        monkeypatch.delenv(engine.COMPILATION_CACHE_ENV)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert engine.use_compilation_cache() == str(tmp_path / "xdg" / "supermask" / "jax")
    finally:
        jax.config.update("jax_compilation_cache_dir", chosen)
