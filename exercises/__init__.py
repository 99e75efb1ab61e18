"""The checks that grade a learner against the chapter's notes; each module is one exercise set
and a plugin of its own (``grader_exercises``).

These modules are imported by the learner's process too (their probes run there), so they hold
no correct implementation of anything they grade: expected values come from ``reference``,
which only the grader imports, and a function a probe needs underneath is supplied by the grader
(``grader.probing.trusted``) or is a closed-form stand-in valid only for that probe's own input.
Known mistakes live in ``exercises.mistakes``, which only the grader imports.
"""


def T(en: str, ja: str) -> dict:
    """A sentence in both languages."""
    return {"en": en, "ja": ja}
