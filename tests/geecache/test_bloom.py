import pytest

from geecache import BloomFilter


def test_no_false_negatives_and_few_false_positives():
    bloom = BloomFilter(10_000, 0.01, keys=(f"user-{i}" for i in range(10_000)))
    assert all(f"user-{i}" in bloom for i in range(10_000))
    false_positives = sum(f"other-{i}" in bloom for i in range(20_000))
    assert false_positives / 20_000 < 0.02


def test_bad_parameters():
    with pytest.raises(ValueError, match="capacity"):
        BloomFilter(0)
    with pytest.raises(ValueError, match="error_rate"):
        BloomFilter(10, 1.5)
