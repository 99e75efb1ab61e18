"""Loss functions: sum of squared errors (4.1) and cross-entropy error (4.2, 4.3)."""
import numpy as np

#: The notes' guard against log(0) = -inf.
DELTA = 1e-7


def mean_squared_error(y, t):
    """E = 1/2 Σ_k (y_k − t_k)²   (4.1)."""
    y = np.asarray(y, dtype=float)
    t = np.asarray(t, dtype=float)
    return 0.5 * np.sum((y - t) ** 2)


def cross_entropy_error(y, t):
    """E = −1/N Σ_n Σ_k t_nk log(y_nk + δ)   (4.2, and 4.3 for a batch of N).

    ``y`` is one output vector or a batch of them (one per row). ``t`` is one-hot, with the same
    shape as ``y``, or the correct labels as integer indices (one per row).
    """
    y = np.asarray(y, dtype=float)
    t = np.asarray(t)
    if y.ndim == 1:
        y = y.reshape(1, y.size)
        t = t.reshape(1, -1) if t.size == y.size else t.reshape(1)
    batch_size = y.shape[0]
    if t.shape == y.shape:
        return -np.sum(t * np.log(y + DELTA)) / batch_size
    labels = t.astype(int)
    return -np.sum(np.log(y[np.arange(batch_size), labels] + DELTA)) / batch_size
