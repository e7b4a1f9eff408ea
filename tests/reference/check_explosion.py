"""Check test_gradients_explode_for_a_chaotic_tanh_rnn on every example it can draw (not collected by pytest).

    python -m tests.reference.check_explosion

Prints the smallest growth norms[-1] / norms[0] over all scales and seeds; the test asserts > 100.
"""

from __future__ import annotations

import numpy as np

from reference.sheet11 import gradient_norms_demo
from tests.reference.test_sheet11 import EXPLODING_SCALES, EXPLODING_SEEDS


def main() -> None:
    worst = (np.inf, None)
    for scale in EXPLODING_SCALES:
        for seed in range(EXPLODING_SEEDS):
            demo = gradient_norms_demo(T=40, n=64, weight_scale=scale, activation="tanh", seed=seed)
            assert np.all(demo.norms <= demo.bounds * (1 + 1e-9)), (scale, seed)
            growth = demo.norms[-1] / demo.norms[0]
            worst = min(worst, (growth, (scale, seed)), key=lambda item: item[0])
    print(f"{len(EXPLODING_SCALES) * EXPLODING_SEEDS} examples; smallest growth {worst[0]:.3g} at "
          f"(weight_scale, seed) = {worst[1]}")


if __name__ == "__main__":
    main()
