"""The six hole-ratio buckets of the partial-convolution / region-normalization protocol."""

from __future__ import annotations

# (low, high] fractions; the first bucket also takes ratios down to 1 % (inclusive).
BUCKETS: tuple[tuple[float, float], ...] = (
    (0.01, 0.10),
    (0.10, 0.20),
    (0.20, 0.30),
    (0.30, 0.40),
    (0.40, 0.50),
    (0.50, 0.60),
)
BUCKET_NAMES: tuple[str, ...] = tuple(f"{round(lo * 100)}-{round(hi * 100)}%" for lo, hi in BUCKETS)


def bucket_of(ratio: float) -> int | None:
    """Index of the bucket holding hole ratio ``ratio`` (0..1), or None if outside all.

    Edges go to the lower bucket (0.10 -> bucket 0), as (low, high] intervals; 0.01 itself
    counts in bucket 0.
    """
    if BUCKETS[0][0] <= ratio <= BUCKETS[0][1]:
        return 0
    for i, (lo, hi) in enumerate(BUCKETS[1:], start=1):
        if lo < ratio <= hi:
            return i
    return None


def parse_bucket(text: str) -> int:
    """'3', '30-40', '30-40%' -> bucket index; ValueError with the choices otherwise."""
    t = text.strip().rstrip("%")
    if t.isdigit() and int(t) < len(BUCKETS):
        return int(t)
    for i, name in enumerate(BUCKET_NAMES):
        if t == name.rstrip("%"):
            return i
    raise ValueError(f"unknown bucket '{text}' (use 0-5 or one of {', '.join(BUCKET_NAMES)})")
