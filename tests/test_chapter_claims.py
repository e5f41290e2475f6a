"""Shared sentences sized to their evidence, from hand-made phase summaries."""

import pytest

from supermask_lib.report.chapters.claims import sighting_sentence


def _phase(best, epochs=30, planned=30, last=False):
    return {"best": best, "epochs": epochs, "planned": planned, "best_is_last": last}


def test_one_test_selected_unfinished_seed_is_a_sighting_left_to_the_width_axis():
    text = sighting_sentence({"mix": _phase(0.653, epochs=16), "weights": _phase(0.629, last=True)})
    assert text == ("mix ends 0.024 above weights (0.653 against 0.629): a sighting, not a comparison (1 seed; each "
                    "phase's epoch chosen on the test set; weights still rising at its last epoch; mix stopped at 16 "
                    "of 30 epochs), so the comparison is left to the width axis")


def test_finished_seeds_selected_on_validation_state_the_gap_alone():
    text = sighting_sentence({"mix": _phase(0.60), "weights": _phase(0.62)}, seeds=5, selected_on="validation")
    assert text == "mix ends 0.020 below weights (0.600 against 0.620)"


def test_missing_phase_is_an_error():
    with pytest.raises(ValueError, match="missing \\['weights'\\]"):
        sighting_sentence({"mix": _phase(0.6)})
