"""grade: run a learner's code apart from the grader and score it against a reference.

Plugin authors need only ``hookimpl``::

    from grader import hookimpl

    @hookimpl
    def grader_exercises(register):
        register(my_exercise)
"""
import pluggy

__version__ = "0.1.0"

#: Marks a function as an implementation of one of the hooks in ``grader.hookspecs``.
hookimpl = pluggy.HookimplMarker("grader")

__all__ = ["__version__", "hookimpl"]
