"""What a probe may use: the same helpers run in the grader (on the reference) and in the
learner's process (on the learner's code).

A probe is a module-level function ``probe(module, rng)``: it reads the names it grades from
``module``, feeds them inputs drawn from ``rng`` and returns plain values. Nothing here holds an
answer. A correct function a probe needs underneath (``trusted``) is, in the grader, the
reference's own; in the learner's process it replays what the reference's did on the same
inputs during the grader's run of the same probe, and knows nothing else.
"""
from __future__ import annotations

import base64
import contextlib
import contextvars
import hashlib
import inspect
import json
from typing import Any, Callable, Iterator, Mapping, Optional

import numpy as np

_ABSENT = object()
#: Bound when the learner's process starts, before any learner code could replace numpy's.
_allclose, _asarray = np.allclose, np.asarray
_trusted_provider: contextvars.ContextVar[Callable[[str], Callable]] = contextvars.ContextVar("trusted")
_supplied_log: contextvars.ContextVar[list] = contextvars.ContextVar("supplied")
_shown_inputs: contextvars.ContextVar[list] = contextvars.ContextVar("inputs")


class MissingName(Exception):
    """The learner's module does not define a name the probe needs."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class NotPlain(TypeError):
    """The learner's code returned something that is not a number or a numeric array."""


#: NotPlain's message for None: most often a function that prints its result, or has no return.
RETURNED_NONE = "None"


class Subject:
    """A module's names as a probe sees them: attribute access, MissingName when absent."""

    __slots__ = ("_names",)

    def __init__(self, names: Mapping[str, Any]):
        object.__setattr__(self, "_names", names)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._names[name]
        except KeyError:
            raise MissingName(name) from None

    def __setattr__(self, name, value):
        raise AttributeError("a probe must not change the module it probes")


# --- functions the grader supplies -------------------------------------------------------------

def trusted(name: str) -> Callable:
    """A correct implementation of ``name``, for a check that charges a bug where it lives.

    In the grader it is the reference's own function (its calls are recorded); in the learner's
    process it is a ``Replay`` of those calls: right for the inputs a correct implementation of
    the rest passes it, and an error for any other.
    """
    try:
        provider = _trusted_provider.get()
    except LookupError:
        raise RuntimeError(f"no trusted implementation of {name!r} is available here") from None
    return provider(name)


@contextlib.contextmanager
def trusted_from(provider: Callable[[str], Callable]) -> Iterator[list]:
    """Run a probe with ``provider`` serving ``trusted``; yields the names the probe supplied."""
    supplied: list = []
    token_provider = _trusted_provider.set(provider)
    token_log = _supplied_log.set(supplied)
    try:
        yield supplied
    finally:
        _trusted_provider.reset(token_provider)
        _supplied_log.reset(token_log)


@contextlib.contextmanager
def supply(target: Any, **implementations: Callable) -> Iterator[None]:
    """While the block runs, ``target`` (a function or class) sees ``implementations`` instead of
    the names it would look up in its module: ``supply(net_class, softmax=trusted("softmax"))``.
    """
    namespaces = _globals_of(target)
    saved = []
    for namespace in namespaces:
        for name, implementation in implementations.items():
            saved.append((namespace, name, namespace.get(name, _ABSENT)))
            namespace[name] = implementation
    try:
        log = _supplied_log.get()
    except LookupError:
        log = None
    if log is not None:
        log.extend(name for name in implementations if name not in log)
    try:
        yield
    finally:
        for namespace, name, old in reversed(saved):
            if old is _ABSENT:
                namespace.pop(name, None)
            else:
                namespace[name] = old


def _globals_of(target: Any) -> list[dict]:
    functions = []
    if isinstance(target, type):
        for klass in target.__mro__:
            if klass is object:
                continue
            for attribute in vars(klass).values():
                functions.append(attribute)
    else:
        functions.append(target)
    namespaces: list[dict] = []
    for function in functions:
        for candidate in (function, getattr(function, "__func__", None), getattr(function, "fget", None)):
            namespace = getattr(candidate, "__globals__", None)
            if type(namespace) is dict and all(namespace is not seen for seen in namespaces):
                namespaces.append(namespace)
    return namespaces


class Recorder:
    """Serves the reference's functions as ``trusted`` and records every call, as plain data."""

    def __init__(self, lookup: Callable[[str], Callable]):
        self.lookup = lookup
        self.calls: list = []
        #: Each supplied function's parameter names, so the learner's process can take a call
        #: by keyword (``softmax(a=z)``) as the function itself would.
        self.params: dict[str, list[str]] = {}

    def __call__(self, name: str) -> Callable:
        function = self.lookup(name)
        names = self.params[name] = _parameter_names(function)

        def recorded(*args, **kwargs):
            args = _bind(name, names, args, kwargs)
            result = function(*args)
            self.calls.append([name, [value(a) for a in args], value(result)])
            return result

        recorded.__name__ = recorded.__qualname__ = name
        return recorded


class Replay:
    """``trusted`` in the learner's process: answers a call only with the recorded result of
    the reference's call with the same arguments (within rounding)."""

    def __init__(self, calls: list, params: Optional[Mapping[str, list]] = None):
        self.calls = calls
        self.params = params or {}

    def __call__(self, name: str) -> Callable:
        calls = [(args, result) for called, args, result in self.calls if called == name]
        return _replaying(name, lambda args: calls, self.params.get(name))


def _replaying(name: str, candidates: Callable[[tuple], Iterator[tuple]], params: Optional[list]) -> Callable:
    """A stand-in for ``name`` (whose parameters are ``params``) that answers a call with the
    result of the first of ``candidates(args)`` (recorded arguments, result) whose arguments are
    the call's, within rounding (a batch of one, ``z`` as one row, is the same call); and
    refuses any other call. The refusal carries which function refused and a hash of what it
    was given (``refused_call``): diagnosis names a mistake only if it was refused the same."""

    def replayed(*args, **kwargs):
        args = _bind(name, params, args, kwargs)
        for recorded_args, result in candidates(args):
            if len(args) == len(recorded_args) and all(_same(a, b) for a, b in zip(args, recorded_args)):
                return _shaped_as_given(result, args, recorded_args)
        key = _call_key(name, args)
        refusal = ValueError(
            f"the grader's {name} was called with other inputs than a correct implementation "
            f"passes it here; check what is computed before {name} is called"
        )
        refusal.grade_refused = (name, key.hex()[:16] if key is not None else "")
        raise refusal

    replayed.__name__ = replayed.__qualname__ = name
    return replayed


def refused_call(exc: BaseException) -> Optional[list]:
    """[function, hash of its arguments] of a supplied function's refusal, else None."""
    try:
        refused = exc.__dict__.get("grade_refused")  # (no learner __getattr__ runs)
    except Exception:  # noqa: BLE001 - a learner's exception may be anything
        return None
    if type(refused) is tuple and len(refused) == 2 and all(type(part) is str for part in refused):
        return [refused[0][:100], refused[1][:32]]
    return None


def _parameter_names(function: Callable) -> list[str]:
    try:
        return [p.name for p in inspect.signature(function).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return []


def call_by_name(function: Callable, args: tuple, names: tuple[tuple[str, ...], ...]) -> Any:
    """``function(*args)``, but with the arguments that have ``names`` passed by keyword when
    ``function`` has a parameter of one of each one's names: the notes call
    ``gradient_descent(function_2, x=init_x, lr=0.1, step_num=100)``, so a learner's function whose
    parameters are in another order (or named as the book's ``init_x``) works as it does for them.
    ``names`` lines up with the end of ``args``; the arguments before it are always positional."""
    leading = len(args) - len(names)
    try:
        keywords = {
            parameter.name for parameter in inspect.signature(function).parameters.values()
            if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
        }
    except Exception:  # noqa: BLE001 - a learner's object may have any signature, or none
        keywords = set()
    chosen = [next((name for name in options if name in keywords), None) for options in names]
    if None in chosen or len(set(chosen)) < len(chosen):
        return function(*args)
    return function(*args[:leading], **dict(zip(chosen, args[leading:])))


def _bind(name: str, params: Optional[list], args: tuple, kwargs: dict) -> tuple:
    """``args`` and ``kwargs`` as the positional arguments of a function with parameters
    ``params``; a TypeError such as the function itself would raise, for a call it would not take."""
    if not kwargs:
        return args
    bound = list(args)
    for param in (params or [])[len(args):]:
        if param not in kwargs:
            break
        bound.append(kwargs.pop(param))
    if kwargs:
        raise TypeError(f"{name}() got an unexpected keyword argument {next(iter(kwargs))!r}")
    return tuple(bound)


def _shaped_as_given(result: Any, args: tuple, recorded_args: list) -> Any:
    """The recorded result, as an array shaped like the call's (a batch of one row given for one
    vector: softmax answers a row)."""
    if not isinstance(result, np.ndarray):
        return result
    result = np.array(result)
    if args and result.shape == np.shape(recorded_args[0]):
        given_shape = np.shape(value(args[0]))
        if given_shape != result.shape:
            return result.reshape(given_shape)
    return result


#: Significant digits of the arguments that find a sealed call (``seal``): enough that only a
#: correct computation of them finds it, coarse enough that rounding never hides it.
SEAL_DIGITS = 4


def seal(calls: list) -> list:
    """The reference's recorded calls ``[name, args, result]`` (wire-encoded), sealed for the
    learner's process: each call's arguments and result are encrypted with a key made from its
    name and its arguments to ``SEAL_DIGITS`` significant digits, and filed under a hash of
    that key. A learner's code that reads a supplied function's closure finds only ciphertext;
    calling the function with the arguments a correct implementation passes opens its entry."""
    from grader import wire

    sealed = []
    for name, args, result in wire.decode_value(calls):
        key = _call_key(name, args)
        if key is None:
            continue
        payload = json.dumps([wire.encode_value(list(args)), wire.encode_value(result)]).encode()
        sealed.append({"id": _entry_id(key), "box": base64.b64encode(_xor(payload, key)).decode()})
    return sealed


class SealedReplay:
    """``trusted`` in the learner's process: answers a call only with the recorded result of
    the reference's call with the same arguments (within rounding), found by its arguments
    (``seal``); knows nothing it can show before then."""

    def __init__(self, sealed: list, decode: Callable[[Any], Any], params: Optional[Mapping[str, list]] = None):
        # ``decode`` is ``wire.decode_value``, passed in: in the learner's process the grader's
        # modules cannot be imported, not even by the grader's own code.
        self.decode = decode
        self.params = params or {}
        # (several calls whose arguments agree to SEAL_DIGITS digits share an id)
        self.boxes: dict[str, list[str]] = {}
        for entry in sealed:
            if type(entry) is dict:
                self.boxes.setdefault(entry["id"], []).append(entry["box"])

    def __call__(self, name: str) -> Callable:
        boxes, decode = self.boxes, self.decode

        def opened(args):
            key = _call_key(name, args)
            for box in boxes.get(_entry_id(key), ()) if key is not None else ():
                recorded_args, result = (decode(part) for part in json.loads(_xor(base64.b64decode(box), key)))
                yield recorded_args, result

        return _replaying(name, opened, self.params.get(name))


def _call_key(name: str, args: tuple) -> Optional[bytes]:
    """A hash of ``name`` and ``args`` rounded to ``SEAL_DIGITS`` significant digits (None for
    arguments that are not numbers)."""
    digest = hashlib.sha256(name.encode() + b"\0" + str(len(args)).encode())
    for arg in args:
        try:
            values = _asarray(value(arg), dtype=float)
        except (NotPlain, TypeError, ValueError):
            return None
        # Each number in scientific notation to SEAL_DIGITS digits: 0, ±inf and nan spelled
        # alike whatever their bits (+ 0.0 makes -0.0 0.0). (Formatting a probe's few numbers
        # costs a tenth of rounding them with numpy.)
        rounded = ",".join([_SEAL_FORMAT % (number + 0.0) for number in values.ravel().tolist()])
        # (the shape without its 1s: a batch of one row is the same call as its one vector)
        digest.update(repr(np.squeeze(values).shape).encode() + b"\0" + rounded.encode() + b"\0")
    return digest.digest()


_SEAL_FORMAT = f"%.{SEAL_DIGITS - 1}e"


def _entry_id(key: bytes) -> str:
    return hashlib.sha256(b"id" + key).hexdigest()[:32]


def _xor(data: bytes, key: bytes) -> bytes:
    stream = hashlib.shake_256(b"box" + key).digest(len(data))
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(data), "big")


def _same(given: Any, recorded: Any) -> bool:
    try:
        given = _asarray(value(given), dtype=float)
    except (NotPlain, TypeError, ValueError):
        return False
    recorded = _asarray(recorded, dtype=float)
    if given.shape != recorded.shape:
        if np.squeeze(given).shape != np.squeeze(recorded).shape:
            return False
        given = given.reshape(recorded.shape)  # a batch of one row, for one vector
    # Equal everywhere is what a correct computation usually gives, and close by any measure
    # (a NaN is equal to nothing: allclose decides, and refuses it).
    return bool((given == recorded).all()) or bool(_allclose(given, recorded, rtol=1e-9, atol=1e-12))


# --- inputs and outputs -------------------------------------------------------------------------

def show(**inputs: Any) -> None:
    """Name the inputs a probe passes, so ``grade submit -v`` can show them with a failure. A
    probe that calls the learner's function once per element of its result shows each call's
    inputs in turn: a failure at ``[i]`` shows the ``i``-th."""
    try:
        shown = _shown_inputs.get()
    except LookupError:
        return
    shown.append(inputs)


def inputs_of_call(shown: list, index: Optional[int]) -> dict:
    """The inputs of the ``index``-th ``show`` of a probe; of all its calls if there is no such
    call (a later call's value of a name replacing an earlier one's)."""
    if index is not None and 0 <= index < len(shown):
        return dict(shown[index])
    merged: dict = {}
    for inputs in shown:
        merged.update(inputs)
    return merged


@contextlib.contextmanager
def recording_inputs() -> Iterator[list]:
    shown: list = []
    token = _shown_inputs.set(shown)
    try:
        yield shown
    finally:
        _shown_inputs.reset(token)


def seed_numpy(rng: np.random.Generator) -> None:
    """Seed numpy's global generator from ``rng``, for learner code that uses ``np.random``."""
    np.random.seed(int(rng.integers(2**32)))


def first(value: Any) -> Any:
    """The first element of a tuple (the book's ``gradient_descent`` returns ``(x, history)``)."""
    return value[0] if type(value) is tuple and value else value


def value(result: Any) -> Any:
    """A learner's result as plain data: exact numbers and numeric arrays pass, a list or tuple of
    numbers becomes an array, and anything else (a float subclass, an object array, an object
    with ``__array__`` or ``__eq__`` tricks) raises NotPlain."""
    kind = type(result)
    if kind in (int, float, bool):
        return result
    if kind is np.ndarray:
        if result.dtype.kind not in "biufc" or result.dtype.fields is not None:
            raise NotPlain(f"an array of dtype {result.dtype}")
        return result
    if isinstance(result, np.generic) and kind.__module__ == "numpy":
        if result.dtype.kind not in "biufc":
            raise NotPlain(f"a numpy value of dtype {result.dtype}")
        return result
    if kind in (list, tuple):
        items = [value(item) for item in result]
        if all(type(item) in (int, float, bool) or type(item) is np.ndarray or isinstance(item, np.generic) for item in items):
            try:
                array = np.array(items)
            except ValueError as exc:
                raise NotPlain("a ragged list") from exc
            if array.dtype.kind in "biufc":
                return array
        raise NotPlain("a list that is not a numeric array")
    if result is None:
        raise NotPlain(RETURNED_NONE)
    raise NotPlain(f"an object of type {kind.__qualname__}")
