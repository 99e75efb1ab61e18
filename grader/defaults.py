"""The built-in plugins, by module name. A module of its own, importing nothing, so the sandbox
host can be started (with the built-in probes to import at boot) before anything else loads."""

#: The built-in probe modules: the sandbox host imports them at boot, before it is asked to.
DEFAULT_PROBE_MODULES = (
    "exercises.losses",
    "exercises.minibatch",
    "exercises.derivatives",
    "exercises.gradient",
    "exercises.descent",
    "exercises.simplenet",
)

DEFAULT_PLUGINS = (
    "grader.messages",
    "grader.loaders.script",
    "grader.loaders.notebook",
    "grader.formats.text",
    "grader.formats.json",
    "grader.formats.gradescope",
    "grader.formats.junit",
    "grader.formats.csv",
    *DEFAULT_PROBE_MODULES,
    "exercises.mistakes",  # known mistakes: grader-side only, never a probe module
)
