"""Plain data that passes between the grader's stages: what is graded, what was found.

Learner-facing text is carried as ``Message`` (an id of ``grader.messages`` and parameters) or
as a ``Text`` (a plugin's own sentence in every language), and rendered in the learner's language
only by an output format.
"""
from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Mapping, Optional

#: A sentence in every language the grader speaks: {"en": ..., "ja": ...}.
Text = Mapping[str, str]
LANGUAGES = ("en", "ja")


class ExitCode(enum.IntEnum):
    """Exit codes, as pytest's: a CI gate can rely on them."""

    OK = 0  #: full marks (or at least --min-score)
    NOT_FULL_MARKS = 1  #: graded, below full marks
    INTERRUPTED = 2
    INTERNAL_ERROR = 3
    USAGE_ERROR = 4


class Status(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    TIMEOUT = "timeout"
    MISSING = "missing"


@dataclass(frozen=True)
class Message:
    """A learner-facing sentence: a message id and its parameters, or a plugin's own Text."""

    id: str
    params: Mapping[str, Any] = field(default_factory=dict)
    text: Optional[Text] = None


# --- what is graded ------------------------------------------------------------------------------

#: ``probe(module, rng) -> plain values``; ``module`` exposes the names under test.
Probe = Callable[[Any, Any], Any]
#: ``verify(got, rng) -> None or a Text`` saying what property ``got`` lacks. ``rng`` is seeded
#: exactly as the probe's was, so it can draw the probe's inputs again.
Verify = Callable[[Any, Any], Optional[Text]]


@dataclass(frozen=True)
class Check:
    """One thing a learner's function must do, worth ``points`` when it does.

    The probe runs twice, on the reference in the grader and on the learner's module in the
    learner's process; the two results are compared within ``rtol``/``atol``, unless ``verify``
    judges the learner's result by its properties (for what is random by design).
    """

    function: str  #: the learner-facing name the check grades
    name: str  #: unique within (exercise, function)
    points: float
    probe: Probe
    title: Text  #: what the check does, for listings and reports
    rtol: float = 1e-7
    atol: float = 0.0
    verify: Optional[Verify] = None
    uses: tuple[str, ...] = ()  #: other learner names the probe calls (end to end)
    supplied: tuple[str, ...] = ()  #: names the grader replaces with correct ones (charged once)
    exercise: str = ""  #: set when its exercise is registered

    # (cached: a batch asks for these hundreds of thousands of times; a frozen dataclass's
    # cached_property writes to the instance's __dict__, not through __setattr__)
    @cached_property
    def id(self) -> str:
        return f"{self.exercise}.{self.function}.{self.name}"

    @cached_property
    def names(self) -> tuple[str, ...]:
        """Every learner name this check depends on, the graded one first."""
        return (self.function, *(n for n in self.uses if n != self.function))

    @property
    def extra(self) -> bool:
        """An extra is reported but worth nothing: forms the notes do not show."""
        return self.points == 0


@dataclass(frozen=True)
class Exercise:
    """A set of checks registered together by one plugin."""

    id: str
    title: Text
    checks: tuple[Check, ...]
    reference: str = "reference"  #: module the expected values come from
    #: How the probes call each function graded ("get_mini_batch(x_train, t_train, batch_size)"),
    #: shown when a call fails before the learner's code runs (other parameters).
    calls: tuple[tuple[str, str], ...] = ()
    #: The plugin that registered it (set by the catalogue): named when the exercise is broken.
    plugin: str = ""

    @property
    def points(self) -> float:
        return sum(check.points for check in self.checks)


@dataclass(frozen=True)
class Mistake:
    """A known wrong way to write ``function``: when a learner's failing output matches one of
    ``implementations`` on the same inputs, the learner is shown ``hint``."""

    id: str
    function: str
    implementations: tuple[Any, ...]
    hint: Text
    #: Instead of implementations: (exception type, message regex) naming any failure that
    #: raises it, in any check or at load time.
    exception: Optional[tuple[str, str]] = None


@dataclass(frozen=True)
class Catalogue:
    """Everything the loaded plugins registered, in the order checks are reported."""

    exercises: tuple[Exercise, ...]
    mistakes: tuple[Mistake, ...] = ()

    @cached_property
    def checks(self) -> tuple[Check, ...]:
        return tuple(check for exercise in self.exercises for check in exercise.checks)

    @cached_property
    def max_score(self) -> float:
        return sum(exercise.points for exercise in self.exercises)

    @cached_property
    def calls(self) -> dict[str, str]:
        return {function: call for exercise in self.exercises for function, call in exercise.calls}

    @cached_property
    def functions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(check.function for check in self.checks))

    def unmatched(self, keyword: Optional[str]) -> list[str]:
        """The comma-separated parts of ``keyword`` that select no check (a typo in one ``-k``)."""
        parts = [part.strip() for part in (keyword or "").split(",") if part.strip()]
        return [part for part in parts if not self.select(part).checks]

    def select(self, keyword: Optional[str]) -> "Catalogue":
        """Only the checks of one exercise, one function, or whose id contains ``keyword``; of
        each of them, for keywords separated by commas (``-k losses -k numerical_diff``)."""
        keywords = [part.strip() for part in (keyword or "").split(",") if part.strip()]
        if not keywords:
            return self

        def wanted_by(keyword: str, exercise: Exercise, check: Check) -> bool:
            if keyword in (exercise.id, check.function, check.id):
                return True
            exact = any(keyword in (e.id, c.function) for e in self.exercises for c in e.checks)
            return not exact and keyword.lower() in check.id.lower()

        def wanted(exercise: Exercise, check: Check) -> bool:
            return any(wanted_by(keyword, exercise, check) for keyword in keywords)

        exercises = []
        for exercise in self.exercises:
            checks = tuple(check for check in exercise.checks if wanted(exercise, check))
            if checks:
                exercises.append(dataclasses.replace(exercise, checks=checks))
        return Catalogue(tuple(exercises), self.mistakes)


# --- what was found ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Location:
    """Where in a submission: a line of a script, or a cell of a notebook (and a line in it)."""

    line: Optional[int] = None
    cell: Optional[int] = None
    execution_count: Optional[int] = None
    file: Optional[str] = None  #: a module of the learner's project other than the entry file


@dataclass(frozen=True)
class CodeUnit:
    """A piece of a submission run as one: a top-level statement, or a notebook cell."""

    source: str
    first_line: int  #: line of ``source``'s first line in ``filename``
    filename: str
    location: Location


@dataclass(frozen=True)
class Hint:
    """A named mistake's explanation, attached where the learner's code shows it."""

    id: str
    text: Text


@dataclass(frozen=True)
class Problem:
    """Something wrong with a submission as a whole, found before or while loading it."""

    where: Location
    message: Message
    traceback: tuple[Mapping[str, Any], ...] = ()
    hints: tuple[Hint, ...] = ()
    #: Functions and classes the code it stopped would have defined (a syntax error's block):
    #: a check that misses one of them says so, rather than only "not defined".
    defines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Submission:
    """A learner's code, read and split into units, ready to be run."""

    name: str
    path: str
    units: tuple[CodeUnit, ...]
    module_name: str
    digest: str  #: hash of the submission's content, for --resume
    project_dir: Optional[str] = None
    workdir: str = ""  #: the entry file's folder, relative to project_dir
    problems: tuple[Problem, ...] = ()  #: found while reading (syntax errors, bad encoding)
    notes: tuple[Message, ...] = ()  #: what was skipped, and why (magics, shell lines)


@dataclass(frozen=True)
class CheckResult:
    check: Check
    status: Status
    score: float
    message: Optional[Message] = None
    hints: tuple[Hint, ...] = ()
    details: Mapping[str, str] = field(default_factory=dict)  #: expected/got/inputs, for -v

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED


@dataclass(frozen=True)
class Output:
    """What the learner's code printed, capped."""

    stdout: str = ""
    stderr: str = ""
    dropped_stdout: int = 0
    dropped_stderr: int = 0


@dataclass(frozen=True)
class Report:
    submission: str
    results: tuple[CheckResult, ...]
    problems: tuple[Problem, ...] = ()
    notes: tuple[Message, ...] = ()
    output: Output = Output()
    digest: str = ""
    seed: int = 0

    @property
    def score(self) -> float:
        return float(round(sum(result.score for result in self.results), 6))

    @property
    def max_score(self) -> float:
        return float(round(sum(result.check.points for result in self.results), 6))

    @property
    def full_marks(self) -> bool:
        if self.max_score > 0:
            return self.score >= self.max_score
        # Checks worth 0 points (extras, chosen with -k): full marks when every one passed,
        # never for an empty or binary file, whose checks all fail.
        return all(result.status is Status.PASSED for result in self.results)
