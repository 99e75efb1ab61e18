"""The grader's side of grading one submission: ``Grader.grade(path) -> Report``.

Loads the submission (in the grader: parsing only), runs it and every check's probe in a learner
process (``grader.sandbox``), compares each result with the reference's (``grader.judge``),
names known mistakes (``grader.diagnosis``) and returns a plain ``Report``.
"""
from __future__ import annotations

import dataclasses
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence

import pluggy

from grader import isolation, probing
from grader.catalogue import build_catalogue, probe_modules, probe_path, refuse_probe_imports
from grader.defaults import DEFAULT_PLUGINS, DEFAULT_PROBE_MODULES
from grader.diagnosis import diagnose, hint_for_problem
from grader.errors import PluginError, UsageError
from grader.expected import Expectations, probe_key
from grader.judge import crash_message, exception_message, frames_of, judge
from grader.loaders import defined_in, name_of
from grader.messages import Messages, collect_messages
from grader.model import (
    LANGUAGES, Catalogue, Check, CheckResult, Hint, Location, Message, Output, Problem, Report, Status, Submission,
)
from grader.plugins import call_each, entry_point_packages, get_plugin_manager
from grader.sandbox.client import ProcessGone, Settings
from grader.sandbox.control import Host
from grader.sandbox.session import Session, check_request
from grader.seeds import fresh_seed
from grader.submission import UNGRADABLE_CONTENT, UNREADABLE_MESSAGE_OF, read_submission
from grader.wire import WireError

if TYPE_CHECKING:
    from grader.prestart import EarlyStart

@dataclass(frozen=True)
class Options:
    """How to grade: the run's seed, limits, which checks, and what learner code may not read."""

    seed: Optional[int] = None  #: None draws a fresh seed for this run
    settings: Settings = Settings()
    keyword: Optional[str] = None  #: only the checks of this exercise or function (``-k``)
    deny_paths: tuple[str, ...] = ()  #: more folders learner code may not read (batch outputs)
    drop_privileges: bool = True  #: as root, run learner code as a user of its own (else as root, without capabilities)


class Grader:
    """Grades submissions against one catalogue with one seed; reuse it for a whole class."""

    def __init__(self, manager: Optional[pluggy.PluginManager] = None, options: Options = Options(),
                 host: Optional[Host] = None):
        self.manager = manager or get_plugin_manager()
        self.options = options
        self.seed = options.seed if options.seed is not None else fresh_seed()
        self.full_catalogue = build_catalogue(self.manager)
        self.catalogue: Catalogue = self.full_catalogue.select(options.keyword)
        self.loaders = collect_loaders(self.manager)
        self.expectations = Expectations(self.catalogue, self.seed)
        self._own_host = host is None
        self.host = host or Host()
        forbidden = self._forbidden_in_probes()
        refuse_probe_imports(self.catalogue, forbidden)
        self.host.set_preload(probe_modules(self.catalogue), forbidden)
        self.host.start()
        self._hidden, self._deny = self._off_limits()
        self._base_config: Optional[dict] = None
        self._probe_groups: Optional[list[list[Check]]] = None
        self._frames: Optional[list[bytes]] = None
        #: The key under which the host holds the check requests (``share_checks``), if it does.
        self._shared_requests: Optional[str] = None
        self._message_tables: Optional[Messages] = None

    # --- the public API --------------------------------------------------------------------

    def read(self, path: os.PathLike | str, entry: Optional[str] = None, name: Optional[str] = None) -> Submission:
        """Read a submission (raises UsageError for a path that cannot be a submission)."""
        return read_submission(Path(path), self.loaders, entry, name)

    def grade(self, path: os.PathLike | str, entry: Optional[str] = None, name: Optional[str] = None,
              early: Optional["EarlyStart"] = None) -> Report:
        """Grade the submission at ``path``; ``early``: its learner process, if one was started
        already (``grader.prestart``)."""
        return self.grade_submission(self.read(path, entry, name), early)

    def grade_as_handed_in(self, path: os.PathLike | str, entry: Optional[str] = None,
                           early: Optional["EarlyStart"] = None, lang: str = "en") -> Report:
        """``grade``, but what was handed in and cannot be graded (a folder of two entries or
        none, without the --entry file, a .txt) is that learner's 0 with the reason, said in
        ``lang``, as `grade batch` gives it: an LMS must get a report. What only the one who runs
        the grader can get wrong (a path that is not there, an --entry outside the folder or of
        a kind grade does not read) stays a UsageError."""
        try:
            return self.grade(path, entry=entry, early=early)
        except UsageError as exc:
            if exc.message_id not in UNGRADABLE_CONTENT or (entry and exc.message_id == "usage.wrong_suffix") \
                    or (entry and (os.path.isabs(entry) or ".." in Path(entry).parts)):
                raise
            if exc.message_id in UNREADABLE_MESSAGE_OF:  # (as a batch says it: an LMS's learner cannot give --entry)
                reason = Message(UNREADABLE_MESSAGE_OF[exc.message_id], {**exc.params, "path": name_of(path)})
            else:
                reason = Message("load.unreadable", {"error": self._messages().text(exc.message_id, lang, **exc.params)})
        submission = Submission(name=name_of(path), path=str(path), units=(), module_name="__main__", digest="",
                                problems=(Problem(Location(), reason),))
        return self.grade_submission(submission)

    def check_references(self) -> None:
        """Compute the reference's result of every check; a PluginError names a plugin whose
        reference fails its own check."""
        for check in self.catalogue.checks:
            self.expectations.expected(check)

    def check_plugins(self) -> None:
        """What a plugin may get wrong that only grading would meet, found before grading anyone
        (a batch asks): a reference that fails its own check, a probe module that imports a
        reference. A PluginError names it."""
        self.check_references()
        if set(probe_modules(self.catalogue)) - set(DEFAULT_PROBE_MODULES):
            self.host.ready()  # (a pack's probe modules: the built-in ones import nothing they may not)

    def share_checks(self) -> None:
        """Hand the host the check requests, the same for every submission this grader grades,
        so that each learner process is forked holding them decoded instead of reading them from
        its socket (a batch asks, once its references are computed)."""
        self._shared_requests = self.host.share_requests(self._request_frames())

    def prepare(self, submission: Submission) -> Optional[Session]:
        """Fork ``submission``'s learner process, to wait set apart for its code (``start``): a
        batch forks the next submission's process while the one before it runs. None for a
        submission with no code to run."""
        if not submission.units:
            return None
        session = self._session(submission, self._config(submission))
        session.spawn_ahead()
        return session

    def start(self, session: Session) -> None:
        """Send a prepared session's process the code and the checks without waiting for them
        to run: a batch starts the next submission as soon as the one before it has run, and
        judges that one meanwhile (``grade_submission`` then reads what the code prints and
        returns; the process keeps its own time limits, and its output waits in its pipes)."""
        try:
            session.begin()
            session.send_requests(self._request_frames())
        except BaseException:
            session.close()
            raise

    def grade_submission(self, submission: Submission, early: Optional["EarlyStart"] = None,
                         started: Optional[Session] = None,
                         when_run: Optional[Callable[[], None]] = None) -> Report:
        """Grade ``submission``. ``early``: its learner process, if one was started already
        (``grader.prestart``); ``started``: its session from ``start``. ``when_run`` is called
        once its code and every check have run, before the grader judges what they returned."""
        problems = list(submission.problems)
        if not submission.units:
            return self._not_loaded(submission, problems, started, when_run)
        groups = self._groups()
        session = started
        if session is None:
            config = self._config(submission)
            session = early.take(submission, config, probe_modules(self.catalogue)) if early is not None else None
            session = session or self._session(submission, config)
        outcomes: dict[int, Mapping[str, Any]] = {}
        try:
            if not session.begun:  # not already started early (``grader.prestart``)
                session.begin()
            if not session.requests:
                session.send_requests(self._request_frames())
            self.check_references()  # (while the learner's code runs; once per grader: a batch reuses them)
            try:
                loaded = session.load()
            except ProcessGone as gone:
                # Not the fault of any one unit: it died after its last, or kept dying.
                loaded = session.loaded
                problems.append(Problem(Location(), Message(
                    "load.exhausted" if gone.reason == "exhausted" else "load.died_after_loading",
                    {"starts": session.starts})))
            session.run_checks(outcomes.__setitem__)
        except WireError as exc:  # its code does not fit in one message to its process
            problems.append(Problem(Location(), Message("load.too_large_to_send", {"detail": str(exc)})))
            return self._not_loaded(submission, problems, session, when_run)
        finally:
            session.close()
        if when_run is not None:
            when_run()
        for index, error in sorted(loaded.problems.items()):
            problems.append(self._unit_problem(submission.units[index], error, submission.units[index + 1:]))
        # In the file's order: a syntax error found on reading and an exception found on running
        # are one list to a learner (a notebook's by cell, then line).
        problems.sort(key=lambda problem: (problem.where.cell or 0, problem.where.line or 0))
        calls = self.full_catalogue.calls
        judged = [_with_the_call(_pointed_to_its_problem(result, tuple(problems), submission.problems), calls)
                  for result in self._judge(groups, outcomes, loaded.names)]
        ordered = diagnose(judged, self._outcomes_by_check(groups, outcomes), self.catalogue.mistakes, self.expectations)
        ordered = _in_call_order(ordered, calls, loaded.parameters, self._messages())
        return self._report(submission, ordered, problems, _output(session.output))

    def _not_loaded(self, submission: Submission, problems: list, session: Optional[Session],
                    when_run: Optional[Callable[[], None]]) -> Report:
        """The report of a submission none of whose code ran."""
        if session is not None:
            session.close()
        if when_run is not None:
            when_run()
        results = [CheckResult(check, Status.MISSING, 0.0, Message("outcome.not_loaded")) for check in self.catalogue.checks]
        return self._report(submission, results, [_alone(problem) for problem in problems], Output())

    def _session(self, submission: Submission, config: dict) -> Session:
        return Session(self.host, isolation.program(submission), self.options.settings, config)

    def _judge(self, groups: list[list[Check]], outcomes: Mapping[int, Mapping[str, Any]],
               names: list[str]) -> list[CheckResult]:
        """Each check's verdict on the outcome of its probe, in the catalogue's order."""
        # Names a missing one may be a misspelling of: not those graded in their own right
        # (function_2 is no misspelling of a missing function_1).
        near_misses = tuple(n for n in names if n not in self.full_catalogue.functions)
        results: dict[str, CheckResult] = {}
        for index, group in enumerate(groups):
            arrays: dict = {}  # the arrays of this outcome, decoded once for all its checks
            for check in group:
                results[check.id] = judge(
                    check, outcomes[index], self.expectations.expected(check),
                    names=near_misses,
                    rng=self.expectations.rng(check) if check.verify else None,
                    timeout=self.options.settings.check_timeout,
                    arrays=arrays,
                )
        return [results[check.id] for check in self.catalogue.checks]

    @staticmethod
    def _outcomes_by_check(groups: list[list[Check]], outcomes: Mapping[int, Mapping[str, Any]]) -> dict:
        return {check.id: outcomes[index] for index, group in enumerate(groups) for check in group}

    def close(self) -> None:
        if self._own_host:
            self.host.close()

    def __enter__(self) -> "Grader":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- the parts -------------------------------------------------------------------------

    def _report(self, submission: Submission, results, problems, output: Output) -> Report:
        return Report(
            submission=submission.name,
            results=tuple(results),
            problems=tuple(problems),
            notes=submission.notes,
            output=output,
            digest=submission.digest,
            seed=self.seed,
        )

    def _messages(self) -> Messages:
        """The plugins' messages, for the hints the grader words itself (in every language)."""
        if self._message_tables is None:
            self._message_tables = collect_messages(self.manager)
        return self._message_tables

    def _groups(self) -> list[list[Check]]:
        """The probes to run, in order, each with the checks that judge its result."""
        if self._probe_groups is None:
            self._probe_groups = probe_groups(list(self.catalogue.checks))
        return self._probe_groups

    def _replay(self, check: Check) -> dict:
        """What the check's ``trusted`` functions answer (sealed), and their parameters: recorded
        from the reference's run of its probe, which is only needed (and run ahead) for checks
        that supply functions."""
        if not check.supplied:
            return {}
        expected = self.expectations.expected(check)
        return {"sealed": probing.seal(expected.get("replay", [])), "params": expected.get("replay_params", {})}

    def _request_frames(self) -> list[bytes]:
        if self._frames is None:
            timeout = self.options.settings.check_timeout
            self._frames = [
                check_request(index, probe_path(group[0]), self.expectations.generator_state(group[0]), timeout,
                              self._replay(group[0]), group[0].id)
                for index, group in enumerate(self._groups())
            ]
        return self._frames

    def _unit_problem(self, unit, error: Mapping[str, Any], later: Sequence = ()) -> Problem:
        """The problem of ``unit``'s ``error``, with the functions and classes it kept from being
        defined: the unit's own (it stopped before its end), or for a file out of time, those of
        the ``later`` units, which never ran."""
        problem = self._unit_problem_alone(unit, error)
        stopped = (unit, *later) if error.get("kind") == "budget" else (unit,)
        defines = tuple(dict.fromkeys(name for each in stopped for name in defined_in(each.source.split("\n"))))
        return dataclasses.replace(problem, defines=problem.defines + defines) if defines else problem

    def _unit_problem_alone(self, unit, error: Mapping[str, Any]) -> Problem:
        kind = error.get("kind")
        location = unit.location
        frames = frames_of(error)
        if kind == "syntax":
            line = error.get("line") or location.line
            location = dataclasses.replace(location, line=line)
            return Problem(location, Message("load.syntax_error", {"error": error.get("message", ""), "text": ""}))
        if kind == "exception":
            last_line = unit.first_line + unit.source.count("\n")
            own = [
                f for f in frames
                if f["file"] in (unit.filename, os.path.basename(unit.filename)) and unit.first_line <= f["line"] < last_line
            ]
            if own:
                location = dataclasses.replace(location, line=own[-1]["line"])
            message = exception_message(error, during="load")
            hint = hint_for_problem(error, self.catalogue.mistakes)
            return Problem(location, message, tuple(frames), (hint,) if hint else ())
        if kind == "timeout":
            seconds = f"{self.options.settings.load_timeout:g}"
            # Stuck in a function the statement called, not in a loop of its own (a training loop
            # at top level spends its time in the functions it calls: the advice is for it).
            loop = LOOP_STATEMENT.match(unit.source)
            called = [frame for frame in frames[1:] if not frame["name"].startswith("<")]
            if not loop and frames and frames[0]["name"] == "<module>" and called:
                inner = frames[-1]
                return Problem(location, Message("load.timeout_in", {"seconds": seconds, "name": called[0]["name"], "file": inner["file"],
                                                                     "line": inner["line"], "code": inner["text"]}), tuple(frames))
            return Problem(location, Message("load.timeout", {"seconds": seconds}), tuple(frames))
        if kind == "budget":
            return Problem(location, Message("load.budget", {
                "seconds": f"{self.options.settings.total_load_seconds:g}", "count": error.get("skipped", 0)}))
        if kind in ("crash", "malformed"):
            return Problem(location, crash_message(error, "load") if kind == "crash" else Message("outcome.malformed"))
        if kind == "disk":
            return Problem(location, Message("load.disk", {"megabytes": error.get("detail", "")}))
        return Problem(location, Message("outcome.malformed"))

    def _config(self, submission: Submission) -> dict:
        if self._base_config is None:  # the same for every submission of this grader
            self._base_config = isolation.base_config(
                self._hidden, self._deny, self.options.settings,
                self.options.drop_privileges and self.host.can_drop_privileges, self.seed, self.options.deny_paths,
            )
        config = isolation.learner_config(self._base_config, submission, self.options.settings)
        if self._shared_requests is not None:
            config["shared_requests"] = self._shared_requests
        return config

    def _grader_side_modules(self) -> tuple[str, ...]:
        """The references' and known mistakes' modules: no probe module may import them, for a
        learner process would then hold them."""
        probes = set(probe_modules(self.catalogue))
        modules = [exercise.reference for exercise in self.catalogue.exercises]
        modules += [getattr(implementation, "__module__", "") for mistake in self.catalogue.mistakes
                    for implementation in mistake.implementations]
        return tuple(dict.fromkeys(module for module in modules if module and module not in probes))

    def _forbidden_in_probes(self) -> tuple[str, ...]:
        """What no probe module may import, for a learner process would then hold it: the
        references and known mistakes, the pack's own modules a reference takes the functions it
        grades from or imports (its answers may be there), and the other packages of a pack's
        distribution. (A library installed apart from the pack, scipy say, is anyone's.)"""
        probes = probe_modules(self.catalogue)
        probe_packages = {name.partition(".")[0] for name in probes}
        packs = set(entry_point_packages(self.manager))
        modules = list(self._grader_side_modules())
        from_packs = [exercise for exercise in self.catalogue.exercises if exercise.plugin not in DEFAULT_PLUGINS]
        installed = tuple(root.rstrip("/") + "/" for root in isolation.python_roots()) if from_packs else ()
        for exercise in from_packs:  # (the built-in reference imports from its own package only)
            reference = sys.modules.get(exercise.reference)  # (imported when the catalogue was built)
            if reference is None:
                continue
            graded = {name for check in exercise.checks for name in check.names}
            found = {getattr(getattr(reference, name, None), "__module__", None) for name in graded}
            for value in vars(reference).values():
                found.add(value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", None))
            modules += [name for name in found if type(name) is str and _packs_own(name, packs, installed)
                        and not any(probe == name or probe.startswith(name + ".") for probe in probes)]
        modules += [package for package in packs if package not in probe_packages]
        return tuple(dict.fromkeys(modules))

    def _off_limits(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Top-level packages a learner's process may not import, and their folders."""
        return isolation.off_limits([*probe_modules(self.catalogue), *self._grader_side_modules()],
                                    entry_point_packages(self.manager))


def _pointed_to_its_problem(result: CheckResult, problems: tuple[Problem, ...],
                            found_reading: tuple[Problem, ...] = ()) -> CheckResult:
    """A check that misses a name which code that did not run (a syntax error, an error or a
    timeout before its end, the file's time gone) would have defined says so, and where: the
    learner named it right, and is to fix that code, not its name."""
    message = result.message
    if result.status is not Status.MISSING or message is None or message.id not in ("outcome.missing", "outcome.missing_did_you_mean"):
        return result
    name = message.params.get("name")
    problem = next((p for p in problems if name in p.defines), None)
    if problem is None:
        return result
    # Why it did not run: a syntax error; code that could not be read otherwise (nested too deeply);
    # the file's time, gone before it; or its own code stopping.
    why = ("not_run" if problem.message.id.startswith("load.syntax_error") else
           "not_read" if problem in found_reading else
           "not_reached" if problem.message.id == "load.budget" else "stopped")
    if problem.where.cell is not None:
        pointed = Message(f"outcome.missing_{why}_cell", {"name": name, "cell": problem.where.cell})
    else:
        pointed = Message(f"outcome.missing_{why}", {"name": name, "line": problem.where.line})
    return dataclasses.replace(result, message=pointed)


#: A statement that is a loop (its first line, decorators and comments aside).
LOOP_STATEMENT = re.compile(r"\s*(?:async\s+)?(?:for|while)\b")
#: What Python says when a call's arguments do not fit the function's parameters.
BINDING_ERROR = re.compile(r"positional arguments? but|missing \d+ required|unexpected keyword argument|"
                           r"multiple values for argument|takes no arguments|keyword-only argument")


def _with_the_call(result: CheckResult, calls: Mapping[str, str]) -> CheckResult:
    """A TypeError raised by the call itself (no line of the learner's ran: other parameters
    than the probe passes) says how the grader calls the function."""
    message = result.message
    if (result.status is not Status.ERROR or message is None or message.id != "outcome.exception"
            or message.params.get("type") != "TypeError" or result.check.function not in calls
            or not BINDING_ERROR.search(str(message.params.get("message", "")))):
        return result
    params = {"message": "", **message.params, "call": calls[result.check.function]}
    return dataclasses.replace(result, message=Message("outcome.call_failed", params))


#: A call form whose arguments are all positional: ``get_mini_batch(x_train, t_train, batch_size)``.
POSITIONAL_CALL = re.compile(r"^\w+\(((?:\w+(?:, )?)*)\)$")


def _in_call_order(results: list[CheckResult], calls: Mapping[str, str], parameters: Mapping[str, list],
                   messages: Messages) -> list[CheckResult]:
    """The failed checks of a function whose parameters are those of its call form in another
    order (``get_mini_batch(batch_size, x_train, t_train)``, ``cross_entropy_error(t, y)``) get a
    hint saying so: called as the grader calls it, by position, it is given each argument as
    another. Not where a named mistake explains the failure already (the order of a symmetric
    function's parameters, such as mean_squared_error's, changes nothing), nor on its extras when
    one of its scored checks failed, as for a named mistake."""
    reordered = {}
    for function, call in calls.items():
        form = POSITIONAL_CALL.match(call)
        theirs = parameters.get(function)
        expected = form.group(1).split(", ") if form and form.group(1) else []
        if theirs is not None and len(theirs) == len(expected) and sorted(theirs) == sorted(expected) and theirs != expected:
            reordered[function] = theirs
    if not reordered:
        return results
    scored_failed = {r.check.function for r in results if not r.passed and not r.check.extra}
    marked = []
    for result in results:
        function = result.check.function
        if (result.passed or result.hints or function not in reordered
                or (result.check.extra and function in scored_failed)):
            marked.append(result)
            continue
        params = {"function": function, "parameters": ", ".join(reordered[function]), "call": calls[function]}
        text = {lang: messages.text("hint.call_parameter_order", lang, **params) for lang in LANGUAGES}
        marked.append(dataclasses.replace(result, hints=(Hint("call.parameter_order", text),)))
    return marked


def _alone(problem: Problem) -> Problem:
    """A syntax error says that the rest of the file still ran: where nothing ran (every other
    statement failed too, or there was none), it says so instead."""
    if problem.message.id != "load.syntax_error":
        return problem
    return dataclasses.replace(problem, message=Message("load.syntax_error_alone", problem.message.params))


def probe_groups(checks: list[Check]) -> list[list[Check]]:
    """Checks sharing a probe, in order of their first: each group is one run of the probe."""
    groups: dict[str, list[Check]] = {}
    for check in checks:
        groups.setdefault(probe_key(check), []).append(check)
    return list(groups.values())


def collect_loaders(manager: pluggy.PluginManager) -> dict:
    loaders: dict = {}

    def registrar(plugin: str):
        def register(suffix: str, load) -> None:
            suffix = suffix.lower()
            if suffix in loaders:
                raise PluginError(f"plugin {plugin!r} registered a loader for {suffix!r}, which already has one")
            loaders[suffix] = load
        return {"register": register}

    call_each(manager, "grader_loaders", registrar)
    return loaders


def _output(captured) -> Output:
    return Output(
        stdout=bytes(captured.stdout).decode("utf-8", "replace"),
        stderr=bytes(captured.stderr).decode("utf-8", "replace"),
        dropped_stdout=captured.dropped_stdout,
        dropped_stderr=captured.dropped_stderr,
    )


def _packs_own(module_name: str, packs: set, installed: tuple[str, ...]) -> bool:
    """Whether ``module_name`` is a pack's own code: a package of an installed pack's
    distribution, or a module from outside the Python installation (``installed``: a pack's
    folder, the grader's own), not the standard library's, numpy's or another installed library's."""
    if module_name.partition(".")[0] in packs:
        return True
    file = getattr(sys.modules.get(module_name), "__file__", None)
    if type(file) is not str:
        return False  # (built into the interpreter, or a namespace)
    return not os.path.realpath(file).startswith(installed)
