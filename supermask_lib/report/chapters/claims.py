"""Sentences shared by several pages, sized to the evidence behind them (for the scale chapter's GPU run)."""


def sighting_sentence(phases, *, seeds=1, selected_on="test", where="the width axis"):
    """What one unfinished run's mix − weights can say, in words: a sighting, not a comparison, when it rests on
    one seed, epochs chosen on the test set, or a phase stopped early or still improving.

    ``phases`` maps ``"mix"`` and ``"weights"`` to ``{"best": accuracy, "epochs": done, "planned": planned,
    "best_is_last": bool}`` (as the stored history gives them).
    """
    missing = [p for p in ("mix", "weights") if p not in phases]
    if missing:
        raise ValueError(f"phases must hold mix and weights; missing {missing}")
    mix, weights = phases["mix"], phases["weights"]
    gap = mix["best"] - weights["best"]
    side = "above" if gap > 0 else "below" if gap < 0 else "level with"
    limits = [f"{seeds} seed" + ("" if seeds == 1 else "s")] if seeds < 3 else []
    if selected_on == "test":
        limits.append("each phase's epoch chosen on the test set")
    for name, phase in (("weights", weights), ("mix", mix)):
        if phase["epochs"] < phase["planned"]:
            limits.append(f"{name} stopped at {phase['epochs']} of {phase['planned']} epochs")
        if phase["best_is_last"]:
            limits.append(f"{name} still rising at its last epoch")
    head = f"mix ends {abs(gap):.3f} {side} weights ({mix['best']:.3f} against {weights['best']:.3f})"
    if not limits:
        return head
    return f"{head}: a sighting, not a comparison ({'; '.join(limits)}), so the comparison is left to {where}"
