"""What the reference (and each known mistake) returns for each check, computed in the grader.

Computed once per seed and shared by every submission graded with it, so a class of two hundred
pays for the reference once. Probes run here under one lock: they seed numpy's global generator
and may supply functions into a module's globals, both of which are process-wide.
"""
from __future__ import annotations

import hashlib
import importlib
import threading
from types import ModuleType
from typing import Any, Callable, Mapping, Optional

import numpy as np

from grader import probing, wire
from grader.defaults import DEFAULT_PLUGINS
from grader.errors import PluginError, describe_exception
from grader.model import Catalogue, Check, Mistake


def probe_key(check: Check) -> str:
    """Checks with the same probe (and the same supplied functions) share one run of it: the
    same inputs, one call to the learner's process, each check judging the result its way."""
    known = _probe_keys.get(id(check))
    if known is not None and known[0] is check:
        return known[1]
    key = f"{check.probe.__module__}:{check.probe.__qualname__}|{','.join(check.supplied)}"
    _probe_keys[id(check)] = (check, key)  # (the check kept alive, so its id stays its own)
    return key


_probe_keys: dict[int, tuple[Check, str]] = {}


def check_seed(run_seed: int, check: Check) -> int:
    """A check's seed. Derived by a hash, so a learner's process that sees one probe's seed
    learns nothing of the next one's inputs."""
    digest = hashlib.sha256(f"{run_seed}:{probe_key(check)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def run_probe(check: Check, names: Mapping[str, Any], seed: int, reference: ModuleType,
              serve: Optional[Callable[[str], Callable]] = None) -> dict:
    """Run ``check``'s probe here on ``names``; the outcome has the learner process's form.
    ``trusted`` functions are the reference's, their calls recorded (the outcome's "replay"),
    unless ``serve`` provides them (``Expectations.replay``: as in the learner's process)."""
    rng = np.random.default_rng(seed)
    recorder = probing.Recorder(lambda name: getattr(reference, name))
    shown: list = []
    try:
        with probing.trusted_from(serve or recorder) as supplied, probing.recording_inputs() as shown, np.errstate(all="ignore"):
            result = check.probe(probing.Subject(names), rng)
        undeclared = set(supplied) - set(check.supplied)
        if undeclared:
            raise RuntimeError(f"check {check.id} supplies {sorted(undeclared)} without declaring it in `supplied`")
        encoded = wire.encode_value(result)
        return {
            "kind": "value",
            "value": wire.decode_value(encoded),
            "encoded": encoded,  # a learner's value sent as exactly this is the same bits
            "inputs": shown,  # described only if a failure shows them
            "replay": wire.encode_value(recorder.calls),  # what ``trusted`` answers in the learner's process
            "replay_params": recorder.params,
        }
    except probing.MissingName as exc:
        return {"kind": "missing", "name": exc.name}
    except NotImplementedError:
        return {"kind": "not_implemented"}
    except (probing.NotPlain, wire.WireError) as exc:
        return {"kind": "not_plain", "message": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a mistake's implementation is meant to fail
        outcome = {"kind": "exception", "type": type(exc).__name__, "message": str(exc)[:500], "frames": [],
                   "at": describe_exception(exc)}  # (where a reference failed, for its plugin's author)
        refused = probing.refused_call(exc)
        return {**outcome, "refused": refused} if refused else outcome


class Expectations:
    """Reference and mistake outcomes for one catalogue and one run seed, computed lazily."""

    def __init__(self, catalogue: Catalogue, run_seed: int):
        self.catalogue = catalogue
        self.run_seed = run_seed
        self._lock = threading.RLock()
        self._cache: dict[tuple, dict] = {}
        self._seeds: dict[str, int] = {}
        self._modules: dict[str, ModuleType] = {}
        self._exercise_of = {check.id: exercise for exercise in catalogue.exercises for check in exercise.checks}

    def generator_state(self, check: Check) -> dict:
        """The state ``np.random.default_rng(seed(check))`` starts in: what the learner's
        process sets its generator to, rather than seeding one per probe."""
        return np.random.default_rng(self.seed(check)).bit_generator.state

    def seed(self, check: Check) -> int:
        key = probe_key(check)
        seed = self._seeds.get(key)
        if seed is None:
            seed = self._seeds[key] = check_seed(self.run_seed, check)
        return seed

    def reference_module(self, check: Check) -> ModuleType:
        return self._module(self._exercise_of[check.id].reference)

    def _module(self, name: str) -> ModuleType:
        module = self._modules.get(name)
        if module is None:
            module = self._modules[name] = importlib.import_module(name)
        return module

    def expected(self, check: Check) -> dict:
        """The reference's outcome for ``check``: a value (a PluginError names the plugin whose
        reference fails its own check, and where)."""
        key = ("reference", probe_key(check))
        with self._lock:
            if key not in self._cache:
                reference = self.reference_module(check)
                self._cache[key] = run_probe(check, vars(reference), self.seed(check), reference)
                exercise = self._exercise_of[check.id]
                if exercise.plugin not in DEFAULT_PLUGINS and check.verify is None and self._cache[key].get("kind") == "value":
                    # A pack's probe must give the same on the same seed (the learner's process runs
                    # it apart): one that draws from np.random, random or the clock fails correct code.
                    # (A check with ``verify`` judges results random by design, not against these.)
                    again = run_probe(check, vars(reference), self.seed(check), reference)
                    if again.get("encoded") != self._cache[key]["encoded"]:
                        raise PluginError(
                            f"check {check.id!r} of plugin {exercise.plugin!r} gives another result each time its probe "
                            f"runs on its reference {exercise.reference!r} with the same seed: a probe must draw every "
                            "input from its `rng` argument (not np.random, random or the clock; "
                            "probing.seed_numpy(rng) first, where the code it grades draws from np.random)")
            outcome = self._cache[key]
        if outcome.get("kind") != "value":
            exercise = self._exercise_of[check.id]
            raise PluginError(f"check {check.id!r} of plugin {exercise.plugin or '?'!r} fails on its own reference "
                              f"{exercise.reference!r}: {_failure(outcome)}")
        return outcome

    def of_mistake(self, mistake: Mistake, index: int, check: Check) -> dict:
        """The outcome of ``mistake``'s ``index``-th implementation standing in for the learner,
        under the learner's conditions: a check's supplied functions replay the reference's
        recorded calls and refuse any other input, as in the learner's process (a mistake that
        hands softmax the wrong input must fail as the learner's code does, not be answered)."""
        key = ("mistake", mistake.id, index, probe_key(check))
        with self._lock:
            if key not in self._cache:
                reference = self.reference_module(check)
                names = {**vars(reference), mistake.function: mistake.implementations[index]}
                self._cache[key] = run_probe(check, names, self.seed(check), reference, self.replay(check))
            return self._cache[key]

    def replay(self, check: Check) -> Optional[probing.Replay]:
        """What serves ``check``'s supplied functions in the learner's process, here: the
        reference's recorded calls, nothing else. None for a check that supplies none."""
        if not check.supplied:
            return None
        expected = self.expected(check)
        return probing.Replay(wire.decode_value(expected.get("replay") or []), expected.get("replay_params"))

    def rng(self, check: Check) -> np.random.Generator:
        """A generator seeded as ``check``'s probe was, for its ``verify`` to redraw inputs."""
        return np.random.default_rng(self.seed(check))


def _failure(outcome: dict) -> str:
    kind = outcome.get("kind")
    if kind == "exception":
        return outcome.get("at") or f"{outcome.get('type')}: {outcome.get('message')}"
    if kind == "missing":
        return f"it does not define {outcome.get('name')!r}"
    if kind == "not_implemented":
        return "it raises NotImplementedError"
    return (f"{outcome.get('message')} was refused: probing.value takes a number, a numeric array, or a list or tuple of "
            "numbers or of arrays of one shape (apply it to each part of a result), and a probe returns numbers, arrays, "
            "and lists, tuples or dicts of them")
