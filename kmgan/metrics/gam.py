"""GAM, the generative adversarial metric (Im et al. 2016).

Two trained games M1 = (G1, D1) and M2 = (G2, D2) swap discriminators. With
eps(D(x)) the error rate of D on x (real examples called fake, generated ones
called real, at P(real) = 0.5):

    r_test    = eps(D1(x_test)) / eps(D2(x_test))
    r_samples = eps(D1(G2(z)))  / eps(D2(G1(z)))

M1 wins when r_samples < 1 (D1 catches G2 more often than D2 catches G1, so
G1 fools D2 more) and r_test ~ 1 (neither discriminator is simply better at
recognising real data); M2 wins when r_samples > 1 and r_test ~ 1; else a
tie. "r_test ~ 1" is |r_test - 1| <= tolerance, 0.25 by default: the GMAN
report's own table (Xu et al., Figure 13) declares a winner at r_test = 1.21.
A ratio 0/0 counts as 1; x/0 with x > 0 as infinity.

Each game's discriminator is its `discriminate(x)` (for GMAN, the aggregate
of its discriminators), so any two games of this library can battle.
"""

import dataclasses

import numpy as np


@dataclasses.dataclass
class BattleResult:
    """Scores of a GAM battle.

    Attributes:
        table: the GMAN report's 2x2 table of error rates: `table[i][j]` for
            discriminator i (row) and generator j (column) holds
            `{"samples": eps(D_i(G_j(z))), "real": eps(D_i(x))}` with x the
            training data on the diagonal (None when no x_train was given)
            and the test data off the diagonal.
        r_test: eps(D1(x_test)) / eps(D2(x_test)).
        r_samples: eps(D1(G2(z))) / eps(D2(G1(z))).
        winner: "M1", "M2" or "tie".
        tolerance: the tolerance on |r_test - 1| used.
    """

    table: dict
    r_test: float
    r_samples: float
    winner: str
    tolerance: float

    def as_row(self):
        return {"r_test": self.r_test, "r_samples": self.r_samples, "winner": self.winner}


def error_rate(probabilities, real):
    """Fraction of examples a discriminator gets wrong at threshold 0.5.

    Args:
        probabilities: P(real) per example.
        real: True when the examples are real data, False when generated.
    """
    p = np.asarray(probabilities).reshape(-1)
    wrong = p < 0.5 if real else p >= 0.5
    return float(wrong.mean())


def ratio(numerator, denominator):
    """numerator / denominator with 0/0 = 1 and x/0 = inf."""
    if denominator == 0:
        return 1.0 if numerator == 0 else float("inf")
    return numerator / denominator


def winner_of(r_test, r_samples, tolerance=0.25):
    """The GAM decision rule (see the module docstring)."""
    if abs(r_test - 1.0) > tolerance:
        return "tie"
    if r_samples < 1.0:
        return "M1"
    if r_samples > 1.0:
        return "M2"
    return "tie"


def battle(model_1, model_2, x_test, x_train=None, num_samples=None, tolerance=0.25, seed=0):
    """Battles two trained games by swapping their discriminators.

    Args:
        model_1: a kmgan game (anything with `sample(n, seed=)` and
            `discriminate(x)`).
        model_2: the other game.
        x_test: held-out real data in the games' range ([-1, 1] images).
        x_train: optional training data, for the table's diagonal.
        num_samples: generated samples per model (default len(x_test)).
        tolerance: how far r_test may be from 1 for a winner to be declared.
        seed: seed of both models' noise.

    Returns:
        A `BattleResult`.
    """
    x_test = np.asarray(x_test, "float32")
    if len(x_test) == 0:
        raise ValueError("battle() needs a non-empty x_test.")
    n = int(num_samples or len(x_test))
    fakes = (model_1.sample(n, seed=seed), model_2.sample(n, seed=seed + 1))
    models = (model_1, model_2)

    table = {}
    for i, d_model in enumerate(models):
        row = {}
        for j, fake in enumerate(fakes):
            real = x_train if (i == j) else x_test
            row[j] = {
                "samples": error_rate(d_model.discriminate(fake), real=False),
                "real": None
                if real is None
                else error_rate(d_model.discriminate(np.asarray(real, "float32")), real=True),
            }
        table[i] = row

    r_test = ratio(table[0][1]["real"], table[1][0]["real"])
    r_samples = ratio(table[0][1]["samples"], table[1][0]["samples"])
    return BattleResult(
        table=table,
        r_test=r_test,
        r_samples=r_samples,
        winner=winner_of(r_test, r_samples, tolerance),
        tolerance=tolerance,
    )
