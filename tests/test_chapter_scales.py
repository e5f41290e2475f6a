"""The scale helper names network, training images, seeds and engine from hand-made run records."""

import json

import pytest

from supermask_lib.report.chapters.scales import device_class, network_title, scale


def _run(*, model="wrn-10-1", dataset="cifar10", train_size=4000, seed=0, backend="tensorflow",
         device="CPU (x86_64, 2 cores)", data_train_size="same"):
    data = {"train_size": train_size if data_train_size == "same" else data_train_size}
    return {"config": {"model": model, "dataset": dataset, "train_size": train_size, "seed": seed},
            "data": data, "environment": {"backend": backend, "device": device}}


def test_study_like_runs_give_the_phrase_and_parts():
    phrase, parts = scale([_run(seed=s) for s in range(5)], profile="study")
    assert phrase == "WRN-10-1, 4,000 CIFAR-10 training images, 5 seeds, TensorFlow on CPU"
    assert parts == {"network": "WRN-10-1", "dataset": "CIFAR-10", "training_images": 4000, "seeds": 5,
                     "backend": "TensorFlow", "device_class": "CPU", "engine": "TensorFlow on CPU",
                     "profile": "study"}


def test_one_gpu_run_on_all_the_copy_holds_counts_the_images_it_saw():
    # train_size None means "all": the offline copy held 10,000, not the published 50,000
    phrase, parts = scale(_run(model="wrn-28-8", train_size=None, data_train_size=10000, backend="jax",
                               device="NVIDIA H200"))
    assert phrase == "WRN-28-8, 10,000 CIFAR-10 training images, 1 seed, JAX on GPU"
    assert parts["seeds"] == 1 and parts["device_class"] == "GPU"


def test_without_a_recorded_size_falls_back_to_the_published_set():
    _, parts = scale(_run(model="fc", dataset="mnist", train_size=None, data_train_size=None))
    assert parts["training_images"] == 60000 and parts["network"] == "LeNet 300-100"


def test_run_folder_is_read(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(_run(model="conv4", seed=2)))
    assert scale(tmp_path)[1]["network"] == "Conv-4"


def test_repeated_seed_counts_once():
    assert scale([_run(seed=1), _run(seed=1), _run(seed=2)])[1]["seeds"] == 2


@pytest.mark.parametrize("field, other", [("network", _run(model="wrn-10-2")), ("training images", _run(train_size=9000)),
                                          ("backend", _run(backend="jax")), ("device class", _run(device="NVIDIA H100"))])
def test_runs_at_two_scales_are_refused(field, other):
    with pytest.raises(ValueError, match=f"runs differ in {field}"):
        scale([_run(), other])


def test_bad_inputs_name_what_is_allowed():
    with pytest.raises(ValueError, match="at least one run"):
        scale([])
    with pytest.raises(ValueError, match="missing \\['environment'\\]"):
        scale({"config": {}, "data": {}})
    with pytest.raises(ValueError, match="device must be"):
        device_class("")


def test_titles():
    assert network_title("wrn-28-8") == "WRN-28-8" and network_title("conv2") == "Conv-2"
    assert device_class("CPU (x86_64, 2 cores)") == "CPU" and device_class("NVIDIA H200") == "GPU"
