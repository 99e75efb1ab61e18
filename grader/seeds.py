"""Seeds: a run's, and the one every learner process's global generators start from.

Light on purpose (no numpy): ``grade submit`` settles its seed before it starts the learner's
process early, and that process must start exactly as the grader would start it.
"""
from __future__ import annotations

import hashlib
import os


def fresh_seed() -> int:
    """A seed for one run's random inputs."""
    return int.from_bytes(os.urandom(4), "big") >> 1


def learner_seed(run_seed: int) -> int:
    """What numpy's global generator and Python's ``random`` start from in each learner process
    of a run: the same for every submission, so what a learner's code draws without seeding
    (the notes' ``simpleNet()`` at top level, say) and prints is the same in ``grade submit``
    and ``grade batch``, run after run. Derived by a hash: the learner's code learns nothing
    of the run's seed, from which every check's inputs derive."""
    digest = hashlib.sha256(f"{run_seed}:learner".encode()).digest()
    return int.from_bytes(digest[:4], "big")  # (np.random.seed takes 32 bits)
