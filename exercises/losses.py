"""Loss functions: sum of squared errors (4.1) and cross-entropy error (4.2, 4.3)."""
import numpy as np

from exercises import T
from grader import hookimpl, probing
from grader.model import Check, Exercise

#: The notes' example: the correct label is "2", and the network gives it probability 0.6.
NOTES_T = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
NOTES_Y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])


def _probabilities(rng, rows, size=10):
    """Rows of positive numbers summing to 1, like a network's output after softmax."""
    return rng.dirichlet(np.ones(size), size=rows)


def _one_hot(labels, size=10):
    out = np.zeros((len(labels), size))
    out[np.arange(len(labels)), labels] = 1.0
    return out


def _each(function, pairs):
    return [_called(function, y, t) for y, t in pairs]


def _called(function, y, t):
    probing.show(y=y, t=t)  # (each call's own: a failure at [i] shows the i-th pair)
    return probing.value(function(y.copy(), t.copy()))


# --- mean_squared_error --------------------------------------------------------------------------

def probe_mse_notes(module, rng):
    return _each(module.mean_squared_error, [(NOTES_Y, NOTES_T), (np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0]), NOTES_T)])


def probe_mse_random(module, rng):
    y = _probabilities(rng, 4)
    t = _one_hot(rng.integers(0, 10, 4))
    return _each(module.mean_squared_error, list(zip(y, t)))


def probe_mse_other_sizes(module, rng):
    pairs = [(rng.normal(0, 100, size), rng.normal(0, 100, size)) for size in (1, 3, 1000)]
    return _each(module.mean_squared_error, pairs)


# --- cross_entropy_error -------------------------------------------------------------------------

def probe_cee_notes(module, rng):
    return _each(module.cross_entropy_error, [(NOTES_Y, NOTES_T), (np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0]), NOTES_T)])


#: Cross-entropy's tolerance where no probability is 0. The delta (1e-7) then moves the loss by
#: at most a few parts in a million on these inputs: a loss without it, or one that clips y at
#: 1e-7 instead, is the same (4.2) there; ``zero_probability`` is where the delta counts. Every
#: other mistake is off by far more.
CEE_RTOL = 1e-5


def _bounded_probabilities(rng, rows, size=10):
    """As ``_probabilities``, each at least 0.01 (so ``CEE_RTOL`` holds however they fall)."""
    return 0.9 * _probabilities(rng, rows, size) + 0.1 / size


def probe_cee_random(module, rng):
    y = _bounded_probabilities(rng, 4)
    t = _one_hot(rng.integers(0, 10, 4))
    return _each(module.cross_entropy_error, list(zip(y, t)))


def probe_cee_zero_probability(module, rng):
    y = _probabilities(rng, 1)[0]
    label = int(rng.integers(0, 10))
    y[label] = 0.0  # the network is sure the correct class is impossible: log(0) = -inf
    y /= y.sum()
    t = _one_hot([label])[0]
    return _each(module.cross_entropy_error, [(y, t), (NOTES_Y, _one_hot([3])[0])])


def probe_cee_batch(module, rng):
    y = _bounded_probabilities(rng, 5)
    t = _one_hot(rng.integers(0, 10, 5))
    return _each(module.cross_entropy_error, [(y, t)])


def probe_cee_labels(module, rng):
    y = _bounded_probabilities(rng, 4)
    labels = rng.integers(0, 10, 4)
    return _each(module.cross_entropy_error, [(y, labels)])


CHECKS = (
    Check("mean_squared_error", "notes_example", 2, probe_mse_notes,
          T("The book's example: y = [0.1, 0.05, 0.6, ...], t one-hot for \"2\" (0.0975), and a worse y (0.5975).",
            "本の例: y = [0.1, 0.05, 0.6, ...]、t は「2」の one-hot（0.0975）と、外れた y（0.5975）。"),
          rtol=1e-9),
    Check("mean_squared_error", "random", 2, probe_mse_random,
          T("Random probability vectors against random one-hot labels.",
            "ランダムな確率ベクトルとランダムな one-hot ラベル。"), rtol=1e-9),
    Check("mean_squared_error", "other_sizes", 2, probe_mse_other_sizes,
          T("Vectors of 1, 3 and 1000 elements, with large and negative values.",
            "要素数 1、3、1000 のベクトル（大きな値や負の値を含む）。"), rtol=1e-9),
    Check("cross_entropy_error", "notes_example", 3, probe_cee_notes,
          T("The notes' example: -log(0.6 + 1e-7) = 0.510825457099338 as the notes print it (-log 0.6 = 0.51), "
            "and -log(0.1 + 1e-7) = 2.302584092994546 for a wrong guess.",
            "ノートの例: ノートが表示するとおり -log(0.6 + 1e-7) = 0.510825457099338（-log 0.6 = 0.51）、"
            "外れた場合は -log(0.1 + 1e-7) = 2.302584092994546。"),
          rtol=CEE_RTOL),
    Check("cross_entropy_error", "random", 3, probe_cee_random,
          T("Random probability vectors against random one-hot labels.",
            "ランダムな確率ベクトルとランダムな one-hot ラベル。"), rtol=CEE_RTOL),
    Check("cross_entropy_error", "zero_probability", 4, probe_cee_zero_probability,
          T("The correct class has probability 0: the result must be -log(1e-7) ≈ 16.118, not inf.",
            "正解のクラスの確率が 0: 結果は inf ではなく -log(1e-7) ≈ 16.118 になるはずです。"), rtol=1e-9),
    Check("cross_entropy_error", "batch", 0, probe_cee_batch,
          T("Extra (the book's batch version): a batch of 5 rows with one-hot labels, averaged over N as in (4.3).",
            "発展（本のバッチ版）: 5 行のバッチと one-hot ラベル。(4.3) のとおり N で割って平均します。"), rtol=CEE_RTOL),
    Check("cross_entropy_error", "labels", 0, probe_cee_labels,
          T("Extra (the book's batch version): a batch of 4 rows with labels given as indices, not one-hot.",
            "発展（本のバッチ版）: 4 行のバッチで、ラベルを one-hot ではなくインデックスで与えます。"), rtol=CEE_RTOL),
)


@hookimpl
def grader_exercises(register):
    register(Exercise("losses", T("Loss functions (4.1, 4.2, 4.3)", "損失関数 (4.1, 4.2, 4.3)"), CHECKS,
                      calls=(("mean_squared_error", "mean_squared_error(y, t)"), ("cross_entropy_error", "cross_entropy_error(y, t)"))))
