"""Mini-batch learning: learn from a few rows drawn at random from the training data."""
import numpy as np


def get_mini_batch(x_train, t_train, batch_size):
    """Draw ``batch_size`` row indices at random (as the book does, with ``np.random.choice``)
    and return those rows of the inputs and of the labels, still paired."""
    train_size = x_train.shape[0]
    batch_mask = np.random.choice(train_size, batch_size)
    return x_train[batch_mask], t_train[batch_mask]
