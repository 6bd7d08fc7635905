"""Magnitudes drawn on both sides of a threshold, most of them within ±1 %.

A draw is a factor of the threshold: about 10 % exactly 1, 35 % just below (0.99–0.998),
35 % just above (1.002–1.01), and the rest further out (0.5–0.99, 1.01–1.5). The 0.2 %
gap around 1 (other than the exact draws) keeps a realised magnitude, after the ledger's
rounding (coordinates to 1e-5°, quantities to 1e-3 of a unit), on its drawn side; each
story still classifies by the *realised* magnitude, never by the draw.
"""

from __future__ import annotations

import random


def factor(rng: random.Random) -> float:
    r = rng.random()
    if r < 0.10:
        return 1.0
    if r < 0.45:
        return 1 - rng.uniform(0.002, 0.01)
    if r < 0.80:
        return 1 + rng.uniform(0.002, 0.01)
    if r < 0.90:
        return rng.uniform(0.5, 0.99)
    return rng.uniform(1.01, 1.5)
