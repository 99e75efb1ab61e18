"""simpleNet: a network with one 2×3 weight matrix, for the gradient of a loss with respect to W."""
import numpy as np

from reference.activations import softmax
from reference.losses import cross_entropy_error


class simpleNet:
    """The notes' class: W is drawn from the standard normal distribution."""

    def __init__(self):
        """W: a 2×3 matrix drawn from the standard normal distribution (np.random.randn)."""
        self.W = np.random.randn(2, 3)

    def predict(self, x):
        """The scores x·W (np.dot)."""
        return np.dot(x, self.W)

    def loss(self, x, t):
        """cross_entropy_error(softmax(predict(x)), t): the scores become probabilities first."""
        z = self.predict(x)
        y = softmax(z)
        return cross_entropy_error(y, t)
