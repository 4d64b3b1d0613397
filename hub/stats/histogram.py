"""Log-spaced latency bins: how a latency is filed, and how percentiles come back out.

Bin ``i >= 1`` holds latencies in ``[MIN_MS * RATIO**(i-1), MIN_MS * RATIO**i)``; bin 0 holds
everything faster than ``MIN_MS``. A percentile is reported as the geometric middle of the bin
holding the exact value, so it is off by at most ``sqrt(RATIO) - 1`` (4.4 %), under the 5 %
the operator API promises, whatever the distribution.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

MIN_MS = 0.01
RATIO = 1.09
# Up to MIN_MS * RATIO**215, about 11 minutes: longer than any service timeout.
LAST_BIN = 215
_LOG_RATIO = math.log(RATIO)
_INV_LOG_RATIO = 1 / _LOG_RATIO
_LOG_MIN = math.log(MIN_MS)
_HALF_STEP = math.sqrt(RATIO)
PERCENTILES = (50, 95, 99)


def bin_of(ms: float) -> int:
    if ms < MIN_MS:
        return 0
    index = int((math.log(ms) - _LOG_MIN) * _INV_LOG_RATIO) + 1
    return index if index < LAST_BIN else LAST_BIN


def bin_value(index: int) -> float:
    """The value reported for a latency in bin ``index``."""
    if index <= 0:
        return 0.0
    return MIN_MS * RATIO ** (index - 1) * _HALF_STEP


def percentiles(
    counts: dict[int, int], qs: Iterable[float] = PERCENTILES
) -> dict[str, float | None]:
    """Nearest-rank percentiles (``p50``...) of a histogram ``bin -> count``; None when empty."""
    total = sum(counts.values())
    qs = list(qs)
    if total == 0:
        return {f"p{q:g}": None for q in qs}
    ordered = sorted(counts.items())
    out: dict[str, float | None] = {}
    for q in qs:
        rank = max(1, math.ceil(q / 100 * total))
        seen = 0
        for index, n in ordered:
            seen += n
            if seen >= rank:
                out[f"p{q:g}"] = round(bin_value(index), 3)
                break
    return out
