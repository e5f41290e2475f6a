"""A scale axis's trend: a straight line through every seed's paired difference against log2(width), with a
term per engine, and the sentence that says what it shows.

Kept apart from ``supermask_lib.study.scale`` (which trains and reads the axis) because every axis uses it:
the post's single rate, the tuned axis, and the tuned axis with its engine bridge.
"""

import numpy as np
from scipy import stats


def trend(differences, confidence=0.95):
    """Per comparison, a straight line through every seed's difference against log2(width), least squares, with
    a term per engine where the seeds ran on more than one.

    ``differences`` as :func:`~supermask_lib.study.scale.seed_differences` gives them. Every seed is a
    point and the seeds' scatter around the line, pooled over the widths,
    gives the intervals (Student's t with n - p degrees of freedom, p the
    line's terms): a width whose few seeds happen to agree is not taken for a
    precise one. A line needs two widths and three seeds in all.

    Engines: the first engine of the narrowest width is the reference and
    every other engine gets a shift (``engines``: engine -> (shift, interval)),
    so the slope is the width's effect with the engine held fixed. Where a
    width ran on both engines the shift is measured there; where none did, it
    rests on the straight line alone (``bridged`` is False), and where the
    engines and widths cannot be told apart at all (each engine one width)
    there is no slope and ``confounded`` says why.

    Where the slope's interval excludes zero and the line runs toward zero,
    ``crossing`` is the width where it reaches zero (on the reference engine;
    none where the engine term rests on the line alone, which it then hangs on),
    with a delta-method interval; ``extrapolated`` says whether that lies
    beyond the widths measured, where it is only as good as the straight line.
    """
    out = {}
    for comparison, rows in differences.groupby(level="comparison", sort=False):
        widths = rows.index.get_level_values("width").to_numpy(dtype=float)
        x, y = np.log2(widths), rows["difference"].to_numpy(dtype=float)
        engine = (rows["engine"].to_numpy() if "engine" in rows else np.full(len(y), "one engine"))
        order = np.argsort(widths, kind="stable")
        names = list(dict.fromkeys(engine[order]))  # the narrowest width's engine first: the reference
        result = {"widths": len(set(widths)), "seeds": len(y), "slope": np.nan, "slope_ci95": np.nan,
                  "crossing": None, "reference": names[0], "engines": {}, "confounded": None,
                  "bridged": any(len(set(engine[widths == width])) > 1 for width in set(widths))}
        design = np.column_stack([np.ones_like(x), x] + [(engine == name).astype(float) for name in names[1:]])
        if result["widths"] >= 2 and len(y) > design.shape[1]:
            if np.linalg.matrix_rank(design) < design.shape[1]:
                result["confounded"] = (f"the seeds' engines ({', '.join(names)}) ran widths that a line cannot "
                                        "tell from the engine; one width run on both would separate them")
                out[comparison] = result
                continue
            coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
            intercept, slope = coefficients[:2]
            residual = y - design @ coefficients
            dof = len(y) - design.shape[1]
            covariance = residual @ residual / dof * np.linalg.inv(design.T @ design)
            t = stats.t.ppf(0.5 + confidence / 2, dof)
            result.update(slope=float(slope), slope_ci95=float(t * np.sqrt(covariance[1, 1])))
            result["engines"] = {name: (float(coefficients[2 + i]), float(t * np.sqrt(covariance[2 + i, 2 + i])))
                                 for i, name in enumerate(names[1:])}
            x0 = -intercept / slope if slope else -np.inf
            if result["engines"] and not result["bridged"]:  # where it meets zero would rest on its shape alone
                pass
            elif abs(slope) > result["slope_ci95"] and x0 >= x.min():  # it meets zero at a width measured or wider
                gradient = np.array([-1.0 / slope, intercept / slope ** 2])
                half = t * float(np.sqrt(gradient @ covariance[:2, :2] @ gradient))
                result["crossing"] = (float(2 ** x0), float(2 ** (x0 - half)), float(2 ** (x0 + half)))
                result["extrapolated"] = bool(x0 > x.max())
        out[comparison] = result
    return out


def engine_sentence(result):
    """The engine terms of one :func:`trend` line in words, or "" where every seed ran on one engine."""
    if result["confounded"]:
        return f"No engine term: {result['confounded']}."
    if not result["engines"]:
        return ""
    shifts = "; ".join(f"{name} {shift:+.3f} ± {ci:.3f}" for name, (shift, ci) in result["engines"].items())
    basis = ("measured where one width ran on both" if result["bridged"] else
             "resting on the straight line alone, since no width ran on both engines")
    return f"The line carries an engine term against {result['reference']} ({shifts}), {basis}."


def trend_sentence(comparison, result):
    """One computed sentence: whether the difference changes with width, and where it would cross zero, then the
    engine term where the seeds ran on several engines."""
    engine = engine_sentence(result)
    if result["confounded"]:
        return f"{comparison}: no trend. {engine}"
    if not np.isfinite(result["slope"]):
        return (f"{comparison}: too few cells for a trend (a line needs two widths and three seeds in all; "
                f"{result['seeds']} seed{'s' * (result['seeds'] != 1)} over {result['widths']} "
                f"width{'s' * (result['widths'] != 1)} so far).")
    fixed = " with the engine held fixed" if result["engines"] else ""
    slope = (f"{result['slope']:+.3f} ± {result['slope_ci95']:.3f} per doubling of the width{fixed}; "
             f"{result['seeds']} seeds over {result['widths']} widths")
    if abs(result["slope"]) <= result["slope_ci95"]:
        sentence = (f"{comparison} does not change detectably with width ({slope}): "
                    "the data do not support an extrapolation.")
    elif result["engines"] and not result["bridged"]:
        moves = "rises" if result["slope"] > 0 else "falls"
        sentence = (f"{comparison} {moves} with width ({slope}); where it would cross zero is not given, since "
                    "that rests on an engine term no shared width has measured.")
    elif result["crossing"] is None:
        moves = "rises" if result["slope"] > 0 else "falls"
        sentence = f"{comparison} {moves} with width ({slope}), moving away from zero: the line does not cross it."
    else:
        moves = "rises" if result["slope"] > 0 else "falls"
        width, low, high = result["crossing"]
        if not result["extrapolated"]:
            sentence = (f"{comparison} {moves} with width ({slope}) and crosses zero "
                        f"within the widths measured, near width {width:.1f} (95% interval {low:.1f} to {high:.1f}).")
        else:
            sentence = (f"{comparison} {moves} with width ({slope}); if the straight line "
                        f"held, it would cross zero near width {width:.0f} (95% interval {low:.0f} to {high:.0f}), "
                        "an extrapolation beyond the widths measured.")
    return f"{sentence} {engine}".strip()
