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


def describe_exception(exc: BaseException) -> str:
    """``Type: message (file, line N, in name)``, where the innermost frame is: a plugin's error
    names the line of its own code that raised."""
    text = f"{type(exc).__name__}: {exc}"
    innermost = exc.__traceback__
    while innermost is not None and innermost.tb_next is not None:
        innermost = innermost.tb_next
    if innermost is not None and not isinstance(exc, SyntaxError):  # (a SyntaxError's message names its line)
        code = innermost.tb_frame.f_code
        text += f" ({code.co_filename}, line {innermost.tb_lineno}, in {code.co_name})"
    return text
