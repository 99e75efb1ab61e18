"""The grader's own exception types; the CLI turns them into messages and exit codes."""


from typing import Any


class GraderError(Exception):
    """Base of every error the grader raises on purpose."""


class UsageError(GraderError):
    """The user asked for something that cannot be done as asked (a missing file, a bad option).

    Carries a message id of ``grader.messages`` and its parameters, so the CLI can say it in the
    user's language; ``str()`` gives the English sentence.
    """

    def __init__(self, message_id: str, **params: Any):
        self.message_id = message_id
        self.params = params
        super().__init__(message_id)

    def __str__(self) -> str:
        from grader.messages import en, fill

        template = en.MESSAGES.get(self.message_id, self.message_id)
        try:
            return fill(template, self.params)
        except (KeyError, IndexError, ValueError):
            return template


class PluginError(GraderError):
    """A plugin registered something invalid: a duplicate id, a probe that is not importable."""


class SandboxError(GraderError):
    """The machinery that runs learner code failed; never the learner's own fault."""
