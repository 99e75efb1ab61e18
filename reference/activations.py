"""The softmax function, used by simpleNet to turn scores into probabilities."""
import numpy as np


def softmax(a):
    """exp(a_k − c) / Σ_i exp(a_i − c) with c = max(a): subtracting the maximum keeps exp from
    overflowing without changing the result. A 2-D batch is normalised row by row."""
    a = np.asarray(a, dtype=float)
    c = np.max(a, axis=-1, keepdims=True)
    exp_a = np.exp(a - c)
    return exp_a / np.sum(exp_a, axis=-1, keepdims=True)
