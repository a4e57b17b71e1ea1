"""Class-balanced, seeded label subsets (the semi-supervised "1% / 10% of labels")."""

import numpy as np

from tfssl.errors import UsageError


def check_fraction(fraction, flag="label_fraction"):
    """The one validation of a label fraction: a number in (0, 1]."""
    try:
        value = float(fraction)
    except (TypeError, ValueError):
        raise UsageError(f"--{flag}={fraction!r}: expected a number in (0, 1]") from None
    if not 0.0 < value <= 1.0:
        raise UsageError(f"--{flag}={fraction}: expected a number in (0, 1]")
    return value


def parse_fractions(value, flag="label_fraction"):
    """``"0.01,0.1,1"`` or a sequence -> sorted unique floats, each checked."""
    items = value.split(",") if isinstance(value, str) else list(value)
    out = sorted({check_fraction(v.strip() if isinstance(v, str) else v, flag)
                  for v in items if not (isinstance(v, str) and not v.strip())})
    if not out:
        raise UsageError(f"--{flag}={value!r}: expected fractions such as 0.01,0.1,1.0")
    return out


def label_fraction_indices(labels, fraction, seed=0):
    """Indices of a class-balanced, seeded ``fraction`` of labelled examples.

    Every class keeps ``max(1, round(fraction * n_class))`` of its ``n_class`` examples,
    chosen by a per-class permutation of ``seed``; the subsets of one seed are nested
    (the 1% subset lies inside the 10% one), so a label-fraction curve changes one thing
    at a time. ``fraction=1`` returns every index. Returned sorted.
    """
    fraction = check_fraction(fraction)
    labels = np.asarray(labels)
    if labels.ndim != 1 or (labels.size and labels.min() < 0):
        raise UsageError("label fractions need one non-negative class id per example")
    if fraction == 1.0:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        order = idx[rng.permutation(len(idx))]
        keep.append(order[:max(1, int(round(fraction * len(idx))))])
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64)
