"""Known mistakes: small wrong implementations, each with the hint a learner who made it needs.

Only the grader imports this module (it needs the reference for the parts each mistake gets
right). Each implementation is the wrong code a learner writes, kept as plain as theirs. The notes'
own code is never one of them where it is right for everything the notes teach: it fails only
0-point extras (the book's later forms), and naming a mistake there would put every learner who
follows the notes into the class's "what to re-teach".
"""
import numpy as np

from exercises import T
from grader import hookimpl
from grader.model import Mistake
from reference import cross_entropy_error, numerical_gradient, softmax  # noqa: F401 - used by the wrong code below


# --- loss functions ------------------------------------------------------------------------------

def mse_missing_half(y, t):
    return np.sum((y - t) ** 2)


def cee_missing_delta(y, t):
    return -np.sum(t * np.log(y))


def cee_missing_delta_batch(y, t):
    """The book's batch form without the delta: it picks the correct class's probability, so a
    0 elsewhere costs nothing (no 0 * -inf), and only a correct class at 0 gives inf."""
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    return -np.sum(np.log(y[np.arange(y.shape[0]), t])) / y.shape[0]


def cee_not_averaged(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    return -np.sum(np.log(y[np.arange(y.shape[0]), t] + 1e-7))


def cee_one_hot_only(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    return -np.sum(t * np.log(y + 1e-7)) / y.shape[0]


def cee_labels_only(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


def cee_swapped(y, t):
    return -np.sum(y * np.log(t + 1e-7))


# --- mini-batches ---------------------------------------------------------------------------------

def batch_unpaired(x_train, t_train, batch_size):
    train_size = x_train.shape[0]
    return x_train[np.random.choice(train_size, batch_size)], t_train[np.random.choice(train_size, batch_size)]


def batch_first_rows(x_train, t_train, batch_size):
    return x_train[:batch_size], t_train[:batch_size]


# --- numerical differentiation --------------------------------------------------------------------

def diff_forward(f, x):
    h = 1e-4
    return (f(x + h) - f(x)) / h


def diff_rounding(f, x):
    h = 10e-50
    return (f(x + h) - f(x - h)) / (2 * h)


def diff_missing_factor_2(f, x):
    h = 1e-4
    return (f(x + h) - f(x - h)) / h


def diff_precedence(f, x):
    h = 1e-4
    return (f(x + h) - f(x - h)) / 2 * h


# --- the gradient ------------------------------------------------------------------------------

def gradient_only_1d(f, x):
    """The notes' code."""
    h = 1e-4
    grad = np.zeros_like(x)
    for idx in range(x.size):
        tmp_val = x[idx]
        x[idx] = tmp_val + h
        fxh1 = f(x)
        x[idx] = tmp_val - h
        fxh2 = f(x)
        grad[idx] = (fxh1 - fxh2) / (2 * h)
        x[idx] = tmp_val
    return grad


def gradient_not_restored(f, x):
    h = 1e-4
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        tmp_val = x[idx]
        x[idx] = tmp_val + h
        fxh1 = f(x)
        x[idx] = tmp_val - h
        fxh2 = f(x)
        grad[idx] = (fxh1 - fxh2) / (2 * h)
    return grad


def gradient_perturbs_copy(f, x):
    h = 1e-4
    x = x.flatten()
    grad = np.zeros_like(x)
    for idx in range(x.size):
        tmp_val = x[idx]
        x[idx] = tmp_val + h
        fxh1 = f(x)
        x[idx] = tmp_val - h
        fxh2 = f(x)
        grad[idx] = (fxh1 - fxh2) / (2 * h)
        x[idx] = tmp_val
    return grad


def gradient_copy_keeps_shape(f, x):
    h = 1e-4
    x = x.copy()
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        tmp_val = x[idx]
        x[idx] = tmp_val + h
        fxh1 = f(x)
        x[idx] = tmp_val - h
        fxh2 = f(x)
        grad[idx] = (fxh1 - fxh2) / (2 * h)
        x[idx] = tmp_val
    return grad


def gradient_flattened_view(f, x):
    h = 1e-4
    flat = x.reshape(-1)  # (a view of a contiguous x; of a transposed one, a copy)
    grad = np.zeros_like(flat)
    for idx in range(flat.size):
        tmp_val = flat[idx]
        flat[idx] = tmp_val + h
        fxh1 = f(x)
        flat[idx] = tmp_val - h
        fxh2 = f(x)
        grad[idx] = (fxh1 - fxh2) / (2 * h)
        flat[idx] = tmp_val
    return grad.reshape(x.shape)


def gradient_flattened_view_flat_result(f, x):
    return gradient_flattened_view(f, x).reshape(-1)


def gradient_return_in_loop(f, x):
    h = 1e-4
    grad = np.zeros_like(x)
    for idx in range(x.size):
        tmp_val = x[idx]
        x[idx] = tmp_val + h
        fxh1 = f(x)
        x[idx] = tmp_val - h
        fxh2 = f(x)
        grad[idx] = (fxh1 - fxh2) / (2 * h)
        x[idx] = tmp_val
        return grad


def gradient_return_in_loop_nd(f, x):
    h = 1e-4
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        tmp_val = x[idx]
        x[idx] = tmp_val + h
        fxh1 = f(x)
        x[idx] = tmp_val - h
        fxh2 = f(x)
        grad[idx] = (fxh1 - fxh2) / (2 * h)
        x[idx] = tmp_val
        return grad


def gradient_precedence(f, x):
    h = 1e-4
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        tmp_val = x[idx]
        x[idx] = tmp_val + h
        fxh1 = f(x)
        x[idx] = tmp_val - h
        fxh2 = f(x)
        grad[idx] = (fxh1 - fxh2) / 2 * h
        x[idx] = tmp_val
    return grad


def gradient_precedence_1d(f, x):
    h = 1e-4
    grad = np.zeros_like(x)
    for idx in range(x.size):
        tmp_val = x[idx]
        x[idx] = tmp_val + h
        fxh1 = f(x)
        x[idx] = tmp_val - h
        fxh2 = f(x)
        grad[idx] = (fxh1 - fxh2) / 2 * h
        x[idx] = tmp_val
    return grad


# --- gradient descent --------------------------------------------------------------------------

def descent_wrong_sign(f, init_x, lr=0.01, step_num=100):
    x = init_x
    for i in range(step_num):
        grad = numerical_gradient(f, x)
        x += lr * grad
    return x


def descent_one_step_more(f, init_x, lr=0.01, step_num=100):
    x = init_x
    for i in range(step_num + 1):
        grad = numerical_gradient(f, x)
        x -= lr * grad
    return x


def descent_one_step_less(f, init_x, lr=0.01, step_num=100):
    x = init_x
    for i in range(1, step_num):
        grad = numerical_gradient(f, x)
        x -= lr * grad
    return x


# --- softmax and simpleNet --------------------------------------------------------------------

def softmax_overflow(a):
    exp_a = np.exp(a)
    return exp_a / np.sum(exp_a)


def softmax_overflow_batch(a):
    exp_a = np.exp(a)
    return exp_a / np.sum(exp_a, axis=-1, keepdims=True)


def softmax_batch_whole_sum(a):
    """Made ready for a batch by half: the maximum is taken per row, the sum still over the
    whole matrix. (The notes' own code, both over the whole matrix, is not a mistake: it is
    right for the vectors the notes use, and only the 0-point batch extra tells.)"""
    c = np.max(a, axis=-1, keepdims=True)
    exp_a = np.exp(a - c)
    return exp_a / np.sum(exp_a)


class NetLossWithoutSoftmax:
    def __init__(self):
        self.W = np.random.randn(2, 3)

    def predict(self, x):
        return np.dot(x, self.W)

    def loss(self, x, t):
        z = self.predict(x)
        return cross_entropy_error(z, t)


class NetSoftmaxOfInput:
    def __init__(self):
        self.W = np.random.randn(2, 3)

    def predict(self, x):
        return np.dot(x, self.W)

    def loss(self, x, t):
        self.predict(x)  # computed, then not used: the mistake
        y = softmax(x)
        return cross_entropy_error(y, t)


class NetWeightShape:
    def __init__(self):
        self.W = np.random.randn(3, 2)

    def predict(self, x):
        return np.dot(x, self.W)

    def loss(self, x, t):
        return cross_entropy_error(softmax(self.predict(x)), t)


class NetUniformWeights:
    def __init__(self):
        self.W = np.random.rand(2, 3)

    def predict(self, x):
        return np.dot(x, self.W)

    def loss(self, x, t):
        return cross_entropy_error(softmax(self.predict(x)), t)


MISTAKES = (
    Mistake("mean_squared_error.missing_half", "mean_squared_error", (mse_missing_half,), T(
        "The sum of squares is not halved. (4.1) is E = ½ Σ(y_k − t_k)²: return 0.5 * np.sum((y - t)**2).",
        "二乗和が半分になっていません。(4.1) は E = ½ Σ(y_k − t_k)² です。0.5 * np.sum((y - t)**2) を返しましょう。")),
    Mistake("cross_entropy_error.missing_delta", "cross_entropy_error", (cee_missing_delta, cee_missing_delta_batch), T(
        "np.log(0) is -inf: when the correct class has probability 0 the loss becomes inf, and a wrong class with "
        "probability 0 (t = 0 there) makes 0 * -inf = nan; either way learning cannot go on. "
        "The notes add a tiny delta for exactly this: -np.sum(t * np.log(y + delta)) with delta = 1e-7.",
        "np.log(0) は -inf なので、正解のクラスの確率が 0 だと損失が inf になり、確率 0 の不正解クラス（そこでは t = 0）"
        "があると 0 * -inf = nan になります。どちらでも計算を進められません。"
        "ノートはそのために微小な値 delta を足しています: delta = 1e-7 として -np.sum(t * np.log(y + delta))。")),
    Mistake("cross_entropy_error.not_averaged", "cross_entropy_error", (cee_not_averaged,), T(
        "For a batch, the loss is summed but not divided by N. (4.3) is E = −(1/N) Σ_n Σ_k t_nk log y_nk: "
        "divide by the batch size y.shape[0] (reshape a single example to one row first).",
        "バッチの損失を合計したまま N で割っていません。(4.3) は E = −(1/N) Σ_n Σ_k t_nk log y_nk です。"
        "バッチサイズ y.shape[0] で割りましょう（1 件のときは先に 1 行に reshape します）。")),
    Mistake("cross_entropy_error.one_hot_only", "cross_entropy_error", (cee_one_hot_only,), T(
        "This version works only when t is one-hot. When t holds the correct labels as indices, "
        "pick each row's probability of its label: -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size.",
        "t が one-hot のときしか動きません。t が正解ラベルのインデックスのときは、各行の正解ラベルの確率を取り出します: "
        "-np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size。")),
    Mistake("cross_entropy_error.labels_only", "cross_entropy_error", (cee_labels_only,), T(
        "This version expects labels as indices, but t here is one-hot (as in the notes). "
        "Convert one-hot t to labels first, after making a single example one row "
        "(if y.ndim == 1: t = t.reshape(1, t.size); y = y.reshape(1, y.size)): "
        "if t.size == y.size: t = t.argmax(axis=1).",
        "この版は t がインデックスのラベルであることを前提にしていますが、ここでの t は（ノートと同じく）one-hot です。"
        "1 件のデータを先に 1 行にしてから（if y.ndim == 1: t = t.reshape(1, t.size); y = y.reshape(1, y.size)）、"
        "ラベルに直しましょう: if t.size == y.size: t = t.argmax(axis=1)。")),
    Mistake("cross_entropy_error.swapped_arguments", "cross_entropy_error", (cee_swapped,), T(
        "y and t are swapped: (4.2) is E = −Σ t_k log y_k, the log of the network's output y weighted by the label t.",
        "y と t が入れ替わっています。(4.2) は E = −Σ t_k log y_k で、ネットワークの出力 y の対数に正解ラベル t を掛けます。")),
    Mistake("get_mini_batch.unpaired", "get_mini_batch", (batch_unpaired,), T(
        "x and t are drawn with different random indices, so labels no longer belong to their inputs. "
        "Draw batch_mask once and use it for both: x_train[batch_mask], t_train[batch_mask].",
        "x と t を別々の乱数で選んでいるため、ラベルが入力と対応しなくなっています。"
        "batch_mask を一度だけ作り、両方に使いましょう: x_train[batch_mask], t_train[batch_mask]。")),
    Mistake("get_mini_batch.first_rows", "get_mini_batch", (batch_first_rows,), T(
        "Mini-batch learning draws its rows at random (100 of 60000 in the notes), not the first rows: "
        "batch_mask = np.random.choice(train_size, batch_size).",
        "ミニバッチ学習では先頭の行ではなく無作為に選びます（ノートでは 60000 個から 100 個）: "
        "batch_mask = np.random.choice(train_size, batch_size)。")),
    Mistake("numerical_diff.forward_difference", "numerical_diff", (diff_forward,), T(
        "This is the forward difference (f(x+h) − f(x)) / h of (4.4), the slope between x and x+h, not at x. "
        "The notes use the central difference to reduce this error: (f(x+h) − f(x−h)) / (2*h).",
        "これは (4.4) の前方差分 (f(x+h) − f(x)) / h で、x ではなく x と x+h の間の傾きです。"
        "ノートではこの誤差を減らすために中心差分を使います: (f(x+h) − f(x−h)) / (2*h)。")),
    Mistake("numerical_diff.rounding_error", "numerical_diff", (diff_rounding,), T(
        "h is so small that x + h rounds back to x (rounding error, as the notes warn about h = 10e-50), "
        "so the difference is 0. Use h = 1e-4.",
        "h が小さすぎて x + h が x に丸められ（ノートが h = 10e-50 について注意している丸め誤差）、差が 0 になっています。"
        "h = 1e-4 を使いましょう。")),
    Mistake("numerical_diff.missing_factor_2", "numerical_diff", (diff_missing_factor_2,), T(
        "The central difference spans from x−h to x+h, a width of 2h: divide by (2*h), not h.",
        "中心差分は x−h から x+h までの幅 2h の差です。h ではなく (2*h) で割りましょう。")),
    Mistake("numerical_diff.operator_precedence", "numerical_diff", (diff_precedence,), T(
        "`/ 2*h` divides by 2 and then multiplies by h, because / and * are evaluated left to right. "
        "Write `/ (2*h)` with parentheses.",
        "`/ 2*h` は / と * が左から順に計算されるため、2 で割ってから h を掛けています。`/ (2*h)` と括弧を付けましょう。")),
    Mistake("numerical_gradient.only_1d", "numerical_gradient", (gradient_only_1d,), T(
        "`for idx in range(x.size)` with x[idx] only works for a 1-D x: on a 2-D array such as simpleNet's W, "
        "x[2] is out of bounds (the IndexError of the notes). Visit every multi-index instead, e.g. "
        "`for idx in np.ndindex(x.shape):` or np.nditer(x, flags=['multi_index'], op_flags=['readwrite']).",
        "`for idx in range(x.size)` と x[idx] は 1 次元の x でしか動きません。simpleNet の W のような 2 次元配列では "
        "x[2] が範囲外になります（ノートの IndexError）。`for idx in np.ndindex(x.shape):` や "
        "np.nditer(x, flags=['multi_index'], op_flags=['readwrite']) ですべての多次元インデックスを回りましょう。")),
    Mistake("numerical_gradient.input_not_restored", "numerical_gradient", (gradient_not_restored,), T(
        "x is left perturbed after each element: put the value back with x[idx] = tmp_val, "
        "or every later partial derivative (and the caller's x) is off by h.",
        "各要素を動かした後、x が元に戻っていません。x[idx] = tmp_val で値を戻さないと、"
        "以降の偏微分（と呼び出し側の x）が h だけずれます。")),
    Mistake("numerical_gradient.perturbs_copy", "numerical_gradient", (gradient_perturbs_copy, gradient_copy_keeps_shape), T(
        "The loop changes a copy of x (x.copy(), x.flatten(), or reshape of a view), so an f that reads the weights "
        "themselves, like f(W) = net.loss(x, t), never sees the change and the gradient is 0. Perturb x in place.",
        "ループが x のコピー（x.copy()、x.flatten()、ビューの reshape）を書き換えているため、f(W) = net.loss(x, t) の"
        "ように重みそのものを読む f には変化が伝わらず、勾配が 0 になります。x そのものをその場で書き換えましょう。")),
    Mistake("numerical_gradient.flattened_copy", "numerical_gradient", (gradient_flattened_view, gradient_flattened_view_flat_result), T(
        "x.reshape(-1) and x.ravel() return a view of x only when its elements lie in order in memory. For a "
        "transposed array such as W.T they return a copy: the loop perturbs the copy, and an f that reads W itself "
        "never sees the change (gradient 0). Index x itself: `for idx in np.ndindex(x.shape):` with x[idx], or "
        "np.nditer(x, flags=['multi_index'], op_flags=['readwrite']).",
        "x.reshape(-1) や x.ravel() が x のビューを返すのは、要素がメモリ上に順に並んでいるときだけです。W.T のような"
        "転置した配列ではコピーを返すため、ループはコピーを書き換え、W そのものを読む f には変化が伝わりません（勾配が 0）。"
        "`for idx in np.ndindex(x.shape):` と x[idx]、または np.nditer(x, flags=['multi_index'], op_flags=['readwrite']) "
        "で x そのものを添字で書き換えましょう。")),
    Mistake("numerical_gradient.return_inside_loop", "numerical_gradient", (gradient_return_in_loop, gradient_return_in_loop_nd), T(
        "`return grad` is indented inside the for loop, so the function returns after the first element "
        "and the other partial derivatives stay 0. Dedent it to run after the loop.",
        "`return grad` が for ループの中にインデントされているため、最初の要素だけ計算して返ってしまい、"
        "他の偏微分が 0 のままです。ループの後に来るようにインデントを戻しましょう。")),
    Mistake("numerical_gradient.operator_precedence", "numerical_gradient", (gradient_precedence, gradient_precedence_1d), T(
        "`/ 2*h` divides by 2 and then multiplies by h, because / and * are evaluated left to right. "
        "Write `/ (2*h)` with parentheses.",
        "`/ 2*h` は / と * が左から順に計算されるため、2 で割ってから h を掛けています。`/ (2*h)` と括弧を付けましょう。")),
    Mistake("gradient_descent.wrong_sign", "gradient_descent", (descent_wrong_sign,), T(
        "x += lr * grad climbs the gradient. (4.7) goes down it: x = x − η ∂f/∂x, i.e. x -= lr * grad.",
        "x += lr * grad では勾配を登ってしまいます。(4.7) は下る方向です: x = x − η ∂f/∂x、つまり x -= lr * grad。")),
    Mistake("gradient_descent.step_count", "gradient_descent", (descent_one_step_more, descent_one_step_less), T(
        "The loop runs one step too many or too few: `for i in range(step_num):` runs exactly step_num updates.",
        "ループの回数が 1 回多いか少ないです。`for i in range(step_num):` でちょうど step_num 回更新されます。")),
    Mistake("softmax.overflow", "softmax", (softmax_overflow, softmax_overflow_batch), T(
        "np.exp of a large input such as 1010 overflows to inf, and inf/inf is nan. Subtract the maximum first: "
        "c = np.max(a); exp_a = np.exp(a - c). The result is unchanged.",
        "1010 のような大きな入力の np.exp は inf にオーバーフローし、inf/inf は nan になります。先に最大値を引きましょう: "
        "c = np.max(a); exp_a = np.exp(a - c)。結果は変わりません。")),
    Mistake("softmax.batch_whole_matrix", "softmax", (softmax_batch_whole_sum,), T(
        "For a 2-D batch, np.sum(exp_a) runs over the whole matrix, so rows do not each sum to 1. "
        "Use axis=-1 with keepdims=True: np.max(a, axis=-1, keepdims=True), np.sum(exp_a, axis=-1, keepdims=True).",
        "2 次元のバッチでは np.sum(exp_a) が行列全体で計算され、各行の和が 1 になりません。"
        "axis=-1, keepdims=True を使いましょう: np.max(a, axis=-1, keepdims=True)、np.sum(exp_a, axis=-1, keepdims=True)。")),
    Mistake("simpleNet.loss_without_softmax", "simpleNet", (NetLossWithoutSoftmax,), T(
        "loss applies cross_entropy_error to the raw scores z = predict(x). The scores must become "
        "probabilities first: y = softmax(z); return cross_entropy_error(y, t).",
        "loss が生のスコア z = predict(x) に cross_entropy_error を適用しています。先に確率に変換しましょう: "
        "y = softmax(z); return cross_entropy_error(y, t)。")),
    Mistake("simpleNet.softmax_of_input", "simpleNet", (NetSoftmaxOfInput,), T(
        "loss takes softmax of the input x instead of the scores z = predict(x), so the loss does not depend on W "
        "and dW cannot be right: y = softmax(self.predict(x)).",
        "loss がスコア z = predict(x) ではなく入力 x の softmax を取っているため、損失が W に依存せず dW が正しくなりません: "
        "y = softmax(self.predict(x))。")),
    Mistake("simpleNet.weight_shape", "simpleNet", (NetWeightShape,), T(
        "W must have shape (2, 3): 2 inputs (x = [0.6, 0.9]) by 3 outputs, so that np.dot(x, W) gives 3 scores. "
        "Use np.random.randn(2, 3).",
        "W の形状は (2, 3)（入力 2 × 出力 3）でなければなりません。そうすると np.dot(x, W) で 3 つのスコアが得られます。"
        "np.random.randn(2, 3) を使いましょう。")),
    Mistake("simpleNet.uniform_weights", "simpleNet", (NetUniformWeights,), T(
        "np.random.rand draws from the uniform distribution on [0, 1); the notes use np.random.randn, "
        "the standard normal distribution (mean 0, standard deviation 1).",
        "np.random.rand は [0, 1) の一様分布から値を取ります。ノートは標準正規分布（平均 0、標準偏差 1）の "
        "np.random.randn を使っています。")),
    Mistake("numpy.missing_import", "*", (), T(
        "NameError: np is not defined, because numpy was never imported (or imported under another name). "
        "Put `import numpy as np` at the top of the file, before the functions that use it.",
        "NameError: np が定義されていません。numpy を import していない（または別名で import している）ためです。"
        "ファイルの先頭、np を使う関数より前に `import numpy as np` を書きましょう。"),
        exception=("NameError", r"name 'np' is not defined")),
    Mistake("input.while_graded", "*", (), T(
        "input() waits for someone to type, and while your code is graded nobody does: it gets EOFError. "
        "Give the value in the code, or keep the interactive part under `if __name__ == \"__main__\":`, "
        "which grading (like an import) does not run.",
        "input() は入力を待ちますが、採点中は誰も入力しないため EOFError になります。値をコードの中で与えるか、"
        "対話する部分を `if __name__ == \"__main__\":` の下に置きましょう（採点では import と同じく実行されません）。"),
        exception=("EOFError", r"^EOF when reading a line$")),
)


@hookimpl
def grader_mistakes(register):
    for mistake in MISTAKES:
        register(mistake)
