"""Class-balanced, seeded, nested label fractions."""

import numpy as np
import pytest

from tfssl.data.subsets import label_fraction_indices, parse_fractions
from tfssl.errors import UsageError


def test_balanced_seeded_and_nested():
    labels = np.repeat(np.arange(4), [100, 50, 20, 3])
    small = label_fraction_indices(labels, 0.1, seed=3)
    counts = np.bincount(labels[small], minlength=4)
    assert counts.tolist() == [10, 5, 2, 1]  # every class kept, at least one example
    assert set(small) <= set(label_fraction_indices(labels, 0.5, seed=3))  # nested
    np.testing.assert_array_equal(small, label_fraction_indices(labels, 0.1, seed=3))
    assert not np.array_equal(small, label_fraction_indices(labels, 0.1, seed=4))
    np.testing.assert_array_equal(label_fraction_indices(labels, 1.0), np.arange(173))


@pytest.mark.parametrize("bad", [0, -0.1, 1.5, "x"])
def test_bad_fraction_is_one_line_error(bad):
    with pytest.raises(UsageError, match="label_fraction"):
        label_fraction_indices(np.zeros(5, int), bad)


def test_parse_fractions():
    assert parse_fractions("1.0, 0.01,0.1") == [0.01, 0.1, 1.0]
    with pytest.raises(UsageError, match="expected a number in"):
        parse_fractions("0.1,2")
