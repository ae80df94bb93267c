"""Bradley-Terry ratings from pairwise battles, as LM Arena computes its leaderboard.

Model i beats model j with probability 1 / (1 + 10^((R_j - R_i) / 400)): the maximum-likelihood ratings R (logistic
regression on the outcomes, base 10, scale 400, a tie counted as half a win for each side), anchored so that their
mean is 1000. 95% intervals from the bootstrap: the battles resampled with replacement and refit, the 2.5th and
97.5th percentiles of each model's rating. A model's rank is 1 + the number of models whose interval lies wholly
above its own (LM Arena's rule: models whose intervals overlap share a rank).

Fit by minorisation-maximisation (Hunter 2004, "MM algorithms for generalized Bradley-Terry models"): each step sets a
model's strength to its wins over the sum, over its battles, of 1 / (its strength + the opponent's); it climbs the
same likelihood as the logistic regression and converges for any battles in which every model won and lost at
least once (a model that never lost has no finite maximum: a pseudo-battle of weight 0.01, a tie against every other
model, keeps it finite, as a weak prior).
"""

from __future__ import annotations

import math
import random

SCALE, BASE, ANCHOR = 400.0, 10.0, 1000.0
PRIOR_WEIGHT = 0.01


def fit(battles: list[tuple[int, int, float]], n_models: int, iterations: int = 500, tol: float = 1e-10) -> list[float]:
    """Ratings of models 0..n_models-1 from battles (a, b, score of a: 1 win, 0 loss, 0.5 tie)."""
    wins = [0.0] * n_models
    games: dict[tuple[int, int], float] = {}
    for a, b, score in battles:
        wins[a] += score
        wins[b] += 1.0 - score
        key = (min(a, b), max(a, b))
        games[key] = games.get(key, 0.0) + 1.0
    for i in range(n_models):  # the prior: a tie of weight PRIOR_WEIGHT against every other model
        for j in range(i + 1, n_models):
            games[(i, j)] = games.get((i, j), 0.0) + PRIOR_WEIGHT
            wins[i] += PRIOR_WEIGHT / 2
            wins[j] += PRIOR_WEIGHT / 2
    strength = [1.0] * n_models
    for _ in range(iterations):
        new = []
        for i in range(n_models):
            denominator = sum(n / (strength[i] + strength[j if i == k else k])
                              for (k, j), n in games.items() if i in (k, j))
            new.append(wins[i] / denominator if denominator else strength[i])
        mean_log = sum(math.log(s) for s in new) / n_models
        new = [s / math.exp(mean_log) for s in new]
        change = max(abs(math.log(x) - math.log(y)) for x, y in zip(new, strength))
        strength = new
        if change < tol:
            break
    return [ANCHOR + SCALE * math.log(s, BASE) for s in strength]


def bootstrap(battles: list[tuple[int, int, float]], n_models: int, rounds: int = 200,
              seed: int = 0) -> list[tuple[float, float]]:
    """(2.5th, 97.5th percentile) of each model's rating over `rounds` resamplings of the battles."""
    rng = random.Random(f"bootstrap/{seed}")
    samples: list[list[float]] = [[] for _ in range(n_models)]
    for _ in range(rounds):
        drawn = [battles[rng.randrange(len(battles))] for _ in battles]
        for i, rating in enumerate(fit(drawn, n_models, iterations=200, tol=1e-8)):
            samples[i].append(rating)
    intervals = []
    for values in samples:
        values.sort()
        intervals.append((values[int(0.025 * (rounds - 1))], values[int(math.ceil(0.975 * (rounds - 1)))]))
    return intervals


def ranks(intervals: list[tuple[float, float]]) -> list[int]:
    """1 + the number of models whose interval lies wholly above each model's."""
    return [1 + sum(other[0] > mine[1] for other in intervals) for mine in intervals]


def win_probability(rating_a: float, rating_b: float) -> float:
    return 1.0 / (1.0 + BASE ** ((rating_b - rating_a) / SCALE))
