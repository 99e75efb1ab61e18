"""Every hook of the grader. Built-in exercise sets, loaders, output formats and messages are
plugins implementing these, exactly as a third-party pack would.

Hooks are called with keyword arguments, so an implementation may take fewer arguments than its
specification (and hooks can grow without breaking plugins). Each ``register`` callback is
called once per thing registered; the grader keeps control of names and duplicates.
"""
import pluggy

hookspec = pluggy.HookspecMarker("grader")


# --- the catalogue: what is graded ----------------------------------------------------------------

@hookspec
def grader_exercises(register):
    """Register exercise sets: call ``register(exercise)`` with a ``grader.model.Exercise`` for
    each. Fires once, when the catalogue is built. Every probe must be a module-level function,
    because the learner's process imports it by name."""


@hookspec
def grader_mistakes(register):
    """Register known mistakes: call ``register(mistake)`` with a ``grader.model.Mistake`` for
    each. When a check of ``mistake.function`` fails, the grader runs the same probe on each
    wrong implementation and shows the hint of those whose output matches the learner's."""


# --- loading a submission ---------------------------------------------------------------------------

@hookspec
def grader_loaders(register):
    """Register submission loaders: call ``register(suffix, load)`` where ``load(path, name)``
    reads the file at ``path`` and returns a ``grader.model.Submission`` (problems such as a
    syntax error or an unreadable file go in its ``problems``; a loader never raises for bad
    learner input)."""


# --- reporting ----------------------------------------------------------------------------------

@hookspec
def grader_formats(register):
    """Register output formats: call ``register(format)`` with a ``grader.formats.Format``,
    whose ``render(report, context)`` turns a ``grader.model.Report`` into text."""


@hookspec
def grader_messages(register):
    """Register learner-facing sentences: call ``register(language, {message_id: template})``.
    Templates use ``str.format`` fields. Later registrations override earlier ones, so a course
    can reword a built-in message."""
