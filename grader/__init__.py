"""grade: run a learner's code apart from the grader and score it against a reference.

Plugin authors need only ``hookimpl``::

    from grader import hookimpl

    @hookimpl
    def grader_exercises(register):
        register(my_exercise)
"""
__version__ = "0.2.0"

__all__ = ["__version__", "hookimpl"]


def __getattr__(name: str):
    # ``hookimpl`` is made on first use: importing pluggy is not free, and the CLI starts the
    # sandbox host before it needs any plugin.
    if name == "hookimpl":
        import pluggy

        #: Marks a function as an implementation of one of the hooks in ``grader.hookspecs``.
        globals()["hookimpl"] = marker = pluggy.HookimplMarker("grader")
        return marker
    raise AttributeError(f"module 'grader' has no attribute {name!r}")
