"""The grader's own exception types; the CLI turns them into messages and exit codes."""


class GraderError(Exception):
    """Base of every error the grader raises on purpose."""


class UsageError(GraderError):
    """The user asked for something that cannot be done as asked (a missing file, a bad option)."""


class PluginError(GraderError):
    """A plugin registered something invalid: a duplicate id, a probe that is not importable."""


class SandboxError(GraderError):
    """The machinery that runs learner code failed; never the learner's own fault."""
