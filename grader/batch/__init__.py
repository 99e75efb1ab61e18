"""Grading a whole class: ``grade batch`` and ``grade merge``.

``discover`` finds the submissions (a folder, or an LMS's .zip); ``state`` keeps one record per
submission, written atomically as soon as it is graded (what ``--resume`` and ``grade merge``
read); ``summary`` turns records into the class summary; ``run`` grades in parallel.
"""
