"""The answer per scale (supermask_lib/report/chapters/verdicts.py): its box on hand-made tables, including the
cases where it must say the opposite, and its rows against the stored tuned runs."""

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from supermask_lib.report.chapters import tuned, values, verdicts

ROOT = Path(__file__).resolve().parents[1]
POST = "mix − weights"


def _row(network, images, rates, difference, ci, verdict, engine="TensorFlow on CPU", seeds=5, improving=0,
         dataset="cifar10"):
    return {"dataset": dataset, "network": network, "images": images, "rates": rates, "engine": engine,
            "seeds": seeds, "scale": f"{network}, {images:,} images, {rates}", POST: difference,
            f"{POST} ci95": ci, "verdict": verdict, "higher": 0, "still improving": improving, "caveats": ""}


def test_a_uniform_verdict_leads_and_every_scale_is_named():
    table = pd.DataFrame([_row("WRN-10-1", 9000, verdicts.TUNED, -0.05, 0.01, "worse"),
                          _row("WRN-10-2", 9000, verdicts.TUNED, -0.03, 0.02, "worse", improving=2)])
    text = verdicts.box("cifar10", table)
    assert "a worse starting point at every scale measured" in text
    assert "(WRN-10-1 on 9,000 images −0.050 ± 0.010, WRN-10-2 −0.030 ± 0.020)" in text
    assert "TensorFlow on CPU, 5 seeds" in text
    assert "Weights still improving at the end: 2 of 10 tuned seeds." in text
    assert text.count("9,000 images") == 1  # the second clause shares the first's images: said once
    assert verdicts.words(text) <= 80


def test_the_opposite_verdict_and_a_mixed_one():
    better = pd.DataFrame([_row("WRN-10-1", 9000, verdicts.TUNED, 0.05, 0.01, "better")])
    assert "a better starting point at the one scale measured" in verdicts.box("cifar10", better)
    both = pd.DataFrame([_row(f"WRN-10-{k}", 9000, verdicts.TUNED, 0.05, 0.01, "better") for k in (1, 2)])
    assert "a better starting point at every scale measured" in verdicts.box("cifar10", both)
    mixed = pd.DataFrame([_row("WRN-10-1", 9000, verdicts.TUNED, -0.05, 0.01, "worse"),
                          _row("WRN-10-2", 9000, verdicts.TUNED, -0.01, 0.02, "no direction")])
    text = verdicts.box("cifar10", mixed)
    assert "not a better starting point at any scale measured" in text
    assert "(worse)" in text and "(no direction)" in text  # each clause carries its own verdict when they differ
    split = pd.DataFrame([_row("WRN-10-1", 9000, verdicts.TUNED, -0.05, 0.01, "worse"),
                          _row("WRN-10-8", 9000, verdicts.TUNED, 0.10, 0.02, "better")])
    assert "the answer depends on the width" in verdicts.box("cifar10", split)


def test_an_axis_not_read_as_an_answer_stays_out_of_the_box_and_in_the_table():
    rows = [_row("WRN-10-1", 9000, verdicts.TUNED, -0.05, 0.01, "worse")]
    rows += [_row(f"WRN-10-{k}", 9000, verdicts.SINGLE_RATE, d, 0.05, v, engine=e, seeds=3)
             for k, d, v, e in ((1, -0.06, "no direction", "TensorFlow on CPU"), (4, 0.04, "no direction", "JAX on GPU"),
                                (8, 0.13, "better", "JAX on GPU"))]
    text = verdicts.box("cifar10", pd.DataFrame(rows))
    assert "single rate" not in text and "width 8" not in text and "better" not in text and "JAX" not in text
    shown = verdicts.display_table(pd.DataFrame(rows))  # the table below the box keeps it, labelled
    assert list(shown.index.get_level_values("rates")).count(verdicts.SINGLE_RATE) == 3
    assert verdicts.words(text) <= 80


def test_a_protocol_of_several_widths_speaks_only_where_it_has_a_direction():
    rows = [_row("WRN-10-1", 9000, verdicts.TUNED, -0.05, 0.01, "worse")]
    rows += [_row(f"WRN-10-{k}", 4000, verdicts.POST_RATES, d, 0.05, v, engine=e, seeds=3)
             for k, d, v, e in ((1, -0.06, "no direction", "TensorFlow on CPU"), (8, 0.13, "better", "JAX on GPU"))]
    text = verdicts.box("cifar10", pd.DataFrame(rows))
    assert "With the study's fixed rates, better at width 8 only (JAX on GPU, 3 seeds)." in text
    assert "width 1" not in text
    quiet = pd.DataFrame([rows[0], rows[1]])
    assert "no direction at any width" not in verdicts.box("cifar10", quiet)  # one row: said as a clause
    assert "WRN-10-1 on 4,000 images, 3 seeds −0.060 ± 0.050 (no direction)" in verdicts.box("cifar10", quiet)


def test_a_bridge_cell_on_a_second_engine_stays_out_of_the_box():
    main = _row("WRN-10-1", 9000, verdicts.TUNED, -0.05, 0.01, "worse")
    bridge = _row("WRN-10-1", 9000, verdicts.TUNED, -0.07, 0.10, "no direction", engine="JAX on CPU", seeds=2)
    text = verdicts.box("cifar10", pd.DataFrame([bridge, main]))
    assert "a worse starting point at the one scale measured (WRN-10-1 on 9,000 images −0.050 ± 0.010)" in text
    assert "JAX" not in text


def test_the_cells_trained_longer_join_the_tuned_lead_with_their_length_named():
    longer = verdicts.LONGER.format(40)
    rows = [_row("WRN-10-1", 9000, verdicts.TUNED, -0.05, 0.01, "worse", improving=3),
            _row("WRN-10-2", 9000, verdicts.TUNED, -0.03, 0.02, "worse", improving=4),
            _row("WRN-10-1", 9000, longer, -0.04, 0.03, "worse", seeds=3, improving=0)]
    text = verdicts.box("cifar10", pd.DataFrame(rows))
    assert ("a worse starting point at every scale measured (WRN-10-1 on 9,000 images −0.050 ± 0.010, WRN-10-2 "
            "−0.030 ± 0.020, WRN-10-1 at 40 epochs, 3 seeds −0.040 ± 0.030).") in text
    assert text.endswith("Weights still improving at the end: 7 of 10 tuned seeds, 0 of 3 at 40 epochs.")
    assert verdicts.words(text) <= 80
    rows[2] = _row("WRN-10-1", 9000, longer, -0.01, 0.03, "no direction", seeds=3)  # longer training undecided:
    text = verdicts.box("cifar10", pd.DataFrame(rows))  # the lead no longer says worse at every scale
    assert "not a better starting point at any scale measured" in text
    assert "WRN-10-1 at 40 epochs, 3 seeds −0.010 ± 0.030 (no direction)" in text


def test_a_dataset_without_rows_says_so():
    assert verdicts.box("mnist", pd.DataFrame()) == "MNIST: no scale measured yet."
    table = pd.DataFrame([_row("WRN-10-1", 4000, verdicts.POST_RATES, -0.013, 0.011, "worse", dataset="mnist")])
    text = verdicts.box("mnist", table)
    assert text.startswith("MNIST: no scale measured with every arm's rate tuned yet.")
    assert "With the study's fixed rates, WRN-10-1 on 4,000 images −0.013 ± 0.011 (worse)." in text


def _history_result(values):
    return SimpleNamespace(histories={"weights": pd.DataFrame({"val_accuracy": values})})


def test_still_improving_reads_the_last_fifth_of_the_best_validation_accuracy():
    flat = [0.1, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
    rising = [0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.62, 0.64, 0.66]  # +0.04 over the last fifth (2 epochs)
    dip = [0.1, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.55, 0.604]  # the best so far moves by 0.004 < 0.005
    results = {0: _history_result(flat), 1: _history_result(rising), 2: _history_result(dip)}
    assert verdicts.still_improving(results) == 1


@pytest.mark.parametrize("dataset", ["cifar10", "mnist"])
def test_rows_of_the_stored_tuned_axis_agree_with_the_tuned_chapter(dataset):
    plan, points, stored = tuned.load(ROOT / "params", ROOT / "results/tuning", ROOT / "results/tuned", dataset)
    if not stored:
        pytest.skip("no stored tuned cells")
    table = verdicts.rows([(results, verdicts.TUNED) for results in stored.values()])
    chapter = tuned.differences(stored)
    for (width, results), (_, row) in zip(stored.items(), table.iterrows()):
        assert row["network"] == f"WRN-10-{width}" and row["seeds"] == len(results)
        assert row[POST] == pytest.approx(chapter.loc[(width, POST), "difference"])
        expected = ("worse" if chapter.loc[(width, POST), "high"] < 0 else
                    "better" if chapter.loc[(width, POST), "low"] > 0 else "no direction")
        assert row["verdict"] == expected
    assert verdicts.words(verdicts.box(dataset, table)) <= 80
    shown = verdicts.display_table(table)
    assert list(shown.index.names) == ["dataset", "scale", "rates"]
    assert list(shown.columns) == ["engine", "seeds", POST, "verdict", "caveats"]
    first = table.iloc[0]
    assert shown.iloc[0][POST] == f"{first[POST]:+.3f} ± {first[POST + ' ci95']:.3f}".replace("-", "−")
    assert shown.index[0][1] == f"{first['network']}, {first['images']:,} images"
    controls = verdicts.controls_table(table)
    assert list(controls.index) == list(shown.index) and "mix − weights_anneal" in controls
    assert list(controls.columns[-2:]) == ["seeds mix higher", "seeds weights still improving"]


@pytest.mark.parametrize("value, said", [(0.0123, "+0.012"), (-0.0134, "−0.013"), (-0.0004, "0.000"), (0.0, "0.000")])
def test_a_signed_difference_has_no_sign_where_it_rounds_to_zero(value, said):
    assert values.signed(value) == said


def test_a_width_with_one_seed_so_far_is_named_with_its_seed_and_no_interval():
    """While a width trains its seeds one by one, the box names its single seed and gives no ``± nan``; the
    paragraph's seed count stays the finished widths' (a tie of counts goes to more seeds)."""
    table = pd.DataFrame([_row("WRN-10-1", 9000, verdicts.TUNED, -0.009, 0.010, "no direction", dataset="mnist"),
                          _row("WRN-10-2", 9000, verdicts.TUNED, -0.0075, float("nan"), "no direction", seeds=1,
                               dataset="mnist")])
    text = verdicts.box("mnist", table)
    assert "(WRN-10-1 on 9,000 images −0.009 ± 0.010, WRN-10-2, 1 seed −0.007)" \
        in text  # −0.0075 rounds half to even
    assert "TensorFlow on CPU, 5 seeds, unless named." in text and "nan" not in text
    shown = verdicts.display_table(table.assign(caveats=""))
    assert list(shown[POST]) == ["−0.009 ± 0.010", "−0.007 without an interval"]
    one = verdicts.Scale("mnist", "WRN-10-2", 9000, verdicts.TUNED, "TensorFlow on CPU", 1)
    assert verdicts._caveats(one, 1) == ["1 seed, fewer than the 5 of the tuned axis",
                                         "weights still improving at the end in 1 of 1 seed"]


def test_the_stored_box_with_every_protocol_is_about_eighty_words_and_keeps_the_single_rate_axis_out():
    from supermask_lib.study import queue

    longer = (ROOT / "results/tuned-long", queue.store_overrides(ROOT / "params/gpu-queue.yaml", "tuned-long"))
    table = verdicts.stored_rows(ROOT / "params", ROOT / "results/study", ROOT / "results/scale",
                                 ROOT / "results/tuning", ROOT / "results/tuned",
                                 [ROOT / "results/bridge", ROOT / "results/tuned-jax"], longer)
    for dataset in ("mnist", "cifar10"):
        text = verdicts.box(dataset, table)
        assert verdicts.words(text) <= 90, text  # about 80: each protocol and width adds a clause
        assert "single rate" not in text and text.count("every arm's rate tuned") == 1
