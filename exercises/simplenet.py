"""softmax, and simpleNet: the gradient of a loss with respect to a 2×3 weight matrix.

simpleNet's ``predict`` and ``loss`` are graded with the grader's correct ``softmax`` and
``cross_entropy_error`` underneath (a bug there is charged once, to those functions). The
gradient check is deliberately end to end: the learner's ``numerical_gradient`` on the learner's
network, as the notes run it, where the notes' code fails with IndexError.
"""
import numpy as np

from exercises import T
from grader import hookimpl, probing
from grader.model import Check, Exercise

#: The W the notes print, and the input and label they use with it.
NOTES_W = np.array([[-0.62006546, -1.59333854, -0.42197585], [0.6357717, -0.24165729, 0.68248515]])
NOTES_X = np.array([0.6, 0.9])
NOTES_T = np.array([0, 0, 1])
NETWORKS = 150  # simpleNet() instances drawn for the statistics of W (900 values)


# --- softmax -------------------------------------------------------------------------------------

def _softmax_each(module, vectors):
    return [_softmax_of(module, a) for a in vectors]


def _softmax_of(module, a):
    probing.show(a=a)  # (each call's own: a failure at [i] shows the i-th)
    return probing.value(module.softmax(np.array(a, dtype=float)))


def probe_softmax_notes(module, rng):
    return _softmax_each(module, [[0.3, 2.9, 4.0]])


def probe_softmax_random(module, rng):
    return _softmax_each(module, list(rng.normal(0, 3, (3, 6))))


def probe_softmax_overflow(module, rng):
    # (The last one spreads wider than exp can: subtracting the minimum or the mean overflows too.)
    return _softmax_each(module, [[1010.0, 1000.0, 990.0], [-1000.0, -1010.0, -1020.0], list(rng.uniform(700, 800, 5)),
                                  [1000.0, 0.0, -1000.0]])


def probe_softmax_uniform(module, rng):
    return _softmax_each(module, [[0.0, 0.0, 0.0, 0.0], [5.0, 5.0]])


def probe_softmax_batch(module, rng):
    batch = rng.normal(0, 3, (4, 5))
    probing.show(a=batch)
    return probing.value(module.softmax(batch.copy()))


# --- simpleNet ---------------------------------------------------------------------------------

def _networks(module, rng, count):
    probing.seed_numpy(rng)
    return [module.simpleNet() for _ in range(count)]


def probe_weights(module, rng):
    weights = [probing.value(net.W) for net in _networks(module, rng, NETWORKS)]
    try:
        return np.stack(weights)  # one array of shape (networks, 2, 3) travels far faster
    except ValueError:
        return weights  # networks whose W differ in shape are reported as such


def _shapes(got):
    return {got.shape[1:]} if isinstance(got, np.ndarray) else {np.shape(w) for w in got}


def verify_weight_shape(got, rng):
    shapes = _shapes(got)
    if shapes != {(2, 3)}:
        return T(f"W should have shape (2, 3) (2 inputs, 3 outputs); got {', '.join(map(str, sorted(shapes)))}.",
                 f"W の形状は (2, 3)（入力 2、出力 3）のはずですが、{', '.join(map(str, sorted(shapes)))} でした。")
    return None


def verify_weight_distribution(got, rng):
    if len({int(np.prod(shape)) for shape in _shapes(got)}) != 1:
        return T("W has a different number of elements in different networks.", "ネットワークごとに W の要素数が違います。")
    if isinstance(got, np.ndarray):  # stacked by the probe: (networks, 2, 3)
        flat = got.astype(float).reshape(len(got), -1)
    else:
        flat = np.array([np.ravel(w) for w in got], dtype=float)
    values = flat.ravel()
    # (rows compared as bytes: np.unique would import numpy.ma, 20 ms, for 100 rows)
    if len({row.tobytes() for row in flat}) < len(flat):
        return T("Different simpleNet() instances got the same W: draw it at random in __init__.",
                 "別々の simpleNet() が同じ W を持っています。__init__ の中で乱数から作りましょう。")
    mean, std = float(values.mean()), float(values.std())
    # Six standard errors for a mean of 900 standard normal values, five for their std.
    if abs(mean) > 0.2 or abs(std - 1.0) > 0.12:
        return T(f"W should be drawn from the standard normal distribution (np.random.randn): mean ≈ 0 and "
                 f"std ≈ 1 over {len(got)} networks, but mean = {mean:.3f} and std = {std:.3f}.",
                 f"W は標準正規分布（np.random.randn）から作るはずです。{len(got)} 個のネットワークで平均 ≈ 0、"
                 f"標準偏差 ≈ 1 になるはずが、平均 = {mean:.3f}、標準偏差 = {std:.3f} でした。")
    return None


def _net_with(module, weights):
    net = module.simpleNet()
    net.W = weights.copy()
    return net


def probe_predict(module, rng):
    cases = [(NOTES_W, NOTES_X), (rng.normal(size=(2, 3)), rng.normal(size=2)), (rng.normal(size=(2, 3)), rng.normal(size=(4, 2)))]
    probing.seed_numpy(rng)
    probing.show(W=NOTES_W, x=NOTES_X)
    return [probing.value(_net_with(module, w).predict(x.copy())) for w, x in cases]


def probe_loss(module, rng):
    cases = [(NOTES_W, NOTES_X, NOTES_T), (rng.normal(size=(2, 3)), rng.normal(size=2), np.eye(3)[rng.integers(0, 3)])]
    probing.seed_numpy(rng)
    probing.show(W=NOTES_W, x=NOTES_X, t=NOTES_T)
    results = []
    with probing.supply(module.simpleNet, softmax=probing.trusted("softmax"),
                        cross_entropy_error=probing.trusted("cross_entropy_error")):
        for w, x, t in cases:
            results.append(probing.value(_net_with(module, w).loss(x.copy(), t.copy())))
    return results


def probe_gradient(module, rng):
    """The notes' last cell, end to end: dW = numerical_gradient(f, net.W)."""
    probing.seed_numpy(rng)
    results = []
    for w in (NOTES_W, rng.normal(size=(2, 3))):
        net = _net_with(module, w)

        def f(W, net=net):
            return net.loss(NOTES_X.copy(), NOTES_T.copy())

        probing.show(W=w, x=NOTES_X, t=NOTES_T)
        results.append(probing.value(module.numerical_gradient(f, net.W)))
    return results


SUPPLIED = ("softmax", "cross_entropy_error")
CHECKS = (
    Check("softmax", "notes_example", 2, probe_softmax_notes,
          T("softmax([0.3, 2.9, 4.0]) ≈ [0.018, 0.245, 0.737], the book's example.",
            "本の例: softmax([0.3, 2.9, 4.0]) ≈ [0.018, 0.245, 0.737]。"), rtol=1e-9),
    Check("softmax", "random", 2, probe_softmax_random,
          T("Random vectors with negative and positive values.", "負と正の値を含むランダムなベクトル。"), rtol=1e-9),
    Check("softmax", "overflow", 3, probe_softmax_overflow,
          T("Large inputs such as [1010, 1000, 990] and [1000, 0, -1000]: exp overflows unless the maximum is subtracted first.",
            "[1010, 1000, 990] や [1000, 0, -1000] のような大きな入力。最大値を先に引かないと exp がオーバーフローします。"), rtol=1e-9),
    Check("softmax", "uniform", 1, probe_softmax_uniform,
          T("Equal inputs give equal probabilities.", "入力がすべて等しければ確率も等しい。"), rtol=1e-9),
    Check("softmax", "batch", 0, probe_softmax_batch,
          T("Extra (the book's later version): a 2-D batch is normalised row by row.",
            "発展（本の後の章の版）: 2 次元のバッチは行ごとに正規化する。"), rtol=1e-9),
    Check("simpleNet", "weight_shape", 2, probe_weights,
          T("simpleNet().W has shape (2, 3).", "simpleNet().W の形状が (2, 3) である。"), verify=verify_weight_shape),
    Check("simpleNet", "weight_distribution", 2, probe_weights,
          T(f"Over {NETWORKS} networks, W is standard normal (mean ≈ 0, std ≈ 1) and differs between networks.",
            f"{NETWORKS} 個のネットワークで W が標準正規分布（平均 ≈ 0、標準偏差 ≈ 1）に従い、ネットワークごとに違う。"),
          verify=verify_weight_distribution),
    Check("simpleNet", "predict", 3, probe_predict,
          T("predict(x) = x·W: with the notes' W, predict([0.6, 0.9]) ≈ [0.20015525, -1.17349469, 0.36105113] (argmax 2).",
            "predict(x) = x·W。ノートの W で predict([0.6, 0.9]) ≈ [0.20015525, -1.17349469, 0.36105113]（argmax は 2）。"),
          rtol=1e-9),
    Check("simpleNet", "loss", 3, probe_loss,
          T("loss(x, t) = cross_entropy_error(softmax(predict(x)), t) ≈ 0.726 with the notes' W "
            "(the grader supplies a correct softmax and cross_entropy_error).",
            "loss(x, t) = cross_entropy_error(softmax(predict(x)), t)。ノートの W で ≈ 0.726"
            "（softmax と cross_entropy_error は採点側の正しいものを使います）。"),
          rtol=1e-9, supplied=SUPPLIED),
    Check("simpleNet", "gradient", 2, probe_gradient,
          T("End to end, as the notes' last cell: dW = numerical_gradient(f, net.W) with f(W) = net.loss(x, t).",
            "ノートの最後のセルのとおり通しで: f(W) = net.loss(x, t) として dW = numerical_gradient(f, net.W)。"),
          rtol=1e-5, atol=1e-6, uses=("numerical_gradient", "softmax", "cross_entropy_error")),
)


@hookimpl
def grader_exercises(register):
    register(Exercise("simplenet", T("softmax and the gradient of simpleNet", "softmax と simpleNet の勾配"), CHECKS,
                      calls=(("softmax", "softmax(a)"), ("simpleNet", "net = simpleNet(); net.predict(x); net.loss(x, t)"))))
