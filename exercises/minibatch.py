"""Mini-batch learning: draw a few rows of the training data at random, inputs and labels paired.

What is random by design is judged by its properties (``verify``), not compared with the
reference's draw: shapes, pairing, rows really taken from the data, a new draw on each call.
"""
import numpy as np

from exercises import T
from grader import hookimpl, probing
from grader.model import Check, Exercise

TRAIN_SIZE = 600  # the notes draw 100 of 60000; a smaller set shows the same properties
FEATURES = 7
BATCH_SIZE = 100


def training_data(rng):
    """Rows that can be told apart: column 0 holds the row's index, the rest is noise."""
    x_train = rng.normal(size=(TRAIN_SIZE, FEATURES))
    x_train[:, 0] = np.arange(TRAIN_SIZE)
    t_train = rng.integers(0, 10, TRAIN_SIZE)
    return x_train, t_train


_redrawn: dict = {}


def _training_data_again(rng):
    """``training_data(rng)`` for the grader's checks, read-only, drawn once per generator state:
    every submission of a batch is judged against the same draw."""
    key = repr(rng.bit_generator.state)
    found = _redrawn.get(key)
    if found is None:
        found = training_data(rng)
        for array in found:
            array.setflags(write=False)
        _redrawn.clear()  # (the latest seed only: the memo stays small)
        _redrawn[key] = found
    return found


def probe_batches(module, rng):
    """Two calls in a row; the learner's code may use numpy's global generator."""
    x_train, t_train = training_data(rng)
    probing.seed_numpy(rng)
    probing.show(x_train=x_train, t_train=t_train, batch_size=BATCH_SIZE)
    draws = []
    for _ in range(2):
        result = module.get_mini_batch(x_train.copy(), t_train.copy(), BATCH_SIZE)
        if type(result) not in (tuple, list) or len(result) != 2:
            raise TypeError("get_mini_batch must return two values: (x_batch, t_batch)")
        draws.append([probing.value(result[0]), probing.value(result[1])])
    return draws


def _arrays(got):
    return [(np.asarray(x), np.asarray(t)) for x, t in got]


def verify_shapes(got, rng):
    for x_batch, t_batch in _arrays(got):
        if x_batch.shape != (BATCH_SIZE, FEATURES) or t_batch.shape != (BATCH_SIZE,):
            return T(
                f"Expected x_batch of shape ({BATCH_SIZE}, {FEATURES}) and t_batch of shape ({BATCH_SIZE},); "
                f"got {x_batch.shape} and {t_batch.shape}.",
                f"x_batch の形状は ({BATCH_SIZE}, {FEATURES})、t_batch は ({BATCH_SIZE},) のはずですが、"
                f"{x_batch.shape} と {t_batch.shape} でした。",
            )
    return None


def _row_indices(x_batch, x_train):
    """Index in x_train of each row of x_batch, or None for a row that is not in the data."""
    if x_batch.ndim != 2 or x_batch.shape[1] != FEATURES or x_batch.dtype.kind != "f":
        return None
    column = x_batch[:, 0]
    if not np.all((column >= 0) & (column < TRAIN_SIZE) & (column == np.floor(column))):
        return None
    indices = column.astype(int)
    return indices if np.array_equal(x_train[indices], x_batch) else None


def verify_drawn_from_data(got, rng):
    return _drawn_from(got, _training_data_again(rng)[0], rng)


def _drawn_from(got, x_train, rng):
    problem = verify_shapes(got, rng)
    if problem:
        return problem
    for x_batch, _ in _arrays(got):
        indices = _row_indices(x_batch, x_train)
        if indices is None:
            return T("Some rows of x_batch are not rows of x_train: take whole rows, x_train[batch_mask].",
                     "x_batch に x_train の行ではないものがあります。x_train[batch_mask] のように行ごと取り出しましょう。")
        if indices.max() < TRAIN_SIZE // 2:
            return T(f"All {BATCH_SIZE} rows come from the first half of the data: draw the indices at random, "
                     "e.g. np.random.choice(train_size, batch_size).",
                     f"{BATCH_SIZE} 行すべてがデータの前半から取られています。np.random.choice(train_size, batch_size) "
                     "などでインデックスを無作為に選びましょう。")
    return None


def verify_paired(got, rng):
    x_train, t_train = _training_data_again(rng)
    problem = _drawn_from(got, x_train, rng)
    if problem:
        return problem
    for x_batch, t_batch in _arrays(got):
        indices = _row_indices(x_batch, x_train)
        if not np.array_equal(t_batch, t_train[indices]):
            return T("The labels are no longer paired with their inputs: use the same indices for x and t "
                     "(x_train[batch_mask], t_train[batch_mask]).",
                     "ラベルが入力と対応していません。x と t に同じインデックスを使いましょう"
                     "（x_train[batch_mask], t_train[batch_mask]）。")
    return None


def verify_different_draws(got, rng):
    problem = verify_shapes(got, rng)
    if problem:
        return problem
    (first, _), (second, _) = _arrays(got)
    if np.array_equal(first, second):
        return T("Two calls returned the same batch: each call must draw new rows at random.",
                 "2 回の呼び出しが同じバッチを返しました。呼び出すたびに無作為に選び直す必要があります。")
    return None


CHECKS = (
    Check("get_mini_batch", "shapes", 2, probe_batches,
          T(f"Returns (x_batch, t_batch) with {BATCH_SIZE} rows each.",
            f"(x_batch, t_batch) をそれぞれ {BATCH_SIZE} 行で返す。"), verify=verify_shapes),
    Check("get_mini_batch", "drawn_from_data", 3, probe_batches,
          T("Every row of x_batch is a row of x_train, drawn from all of the data.",
            "x_batch の各行は x_train の行で、データ全体から選ばれている。"), verify=verify_drawn_from_data),
    Check("get_mini_batch", "paired", 3, probe_batches,
          T("Each label in t_batch belongs to its row in x_batch.",
            "t_batch の各ラベルが x_batch の同じ行に対応している。"), verify=verify_paired),
    Check("get_mini_batch", "different_draws", 2, probe_batches,
          T("Two calls draw two different batches.", "2 回呼ぶと別のバッチになる。"), verify=verify_different_draws),
)


@hookimpl
def grader_exercises(register):
    register(Exercise("minibatch", T("Mini-batch learning", "ミニバッチ学習"), CHECKS,
                      calls=(("get_mini_batch", "get_mini_batch(x_train, t_train, batch_size)"),)))
