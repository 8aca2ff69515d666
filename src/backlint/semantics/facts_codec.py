"""`ModuleFacts` as plain JSON data, and back, validated.

The index cache lives in the linted tree, where anyone who can open a pull
request can write: it is data, never code. Facts are written as nested lists
(a tag, then the fields) and read back by a decoder that checks every tag,
arity and type; anything else raises `CodecError` and the entry is rebuilt.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

from backlint.engine.cache_store import StaleFacts
from backlint.semantics.facts import (
    UNKNOWN,
    Attr,
    Await,
    Call,
    ClassFacts,
    Comp,
    Const,
    FunctionFacts,
    Local,
    Mapping,
    ModuleFacts,
    Ref,
    Seq,
    Subscript,
    Value,
)


class CodecError(ValueError):
    """Cached data of a shape this version does not write."""


# ---------------------------------------------------------------------------
# Encoding: values are lists whose first item is a one-letter tag.


def encode_value(value: Value) -> Any:
    if isinstance(value, Ref):
        return ["R", value.name]
    if isinstance(value, Attr):
        return ["A", encode_value(value.value), value.attr]
    if isinstance(value, Call):
        return [
            "C",
            encode_value(value.func),
            [encode_value(a) for a in value.args],
            [[k, encode_value(v)] for k, v in value.kwargs],
        ]
    if isinstance(value, Const):
        v = value.value
        if isinstance(v, bytes):
            return ["B", base64.b64encode(v).decode("ascii")]
        return ["K", v]
    if isinstance(value, Local):
        return ["L", value.name]
    if isinstance(value, Seq):
        return ["S", [encode_value(i) for i in value.items]]
    if isinstance(value, Mapping):
        return ["M", [[encode_value(k), encode_value(v)] for k, v in value.items]]
    if isinstance(value, Subscript):
        return ["X", encode_value(value.value), [encode_value(i) for i in value.index]]
    if isinstance(value, Await):
        return ["W", encode_value(value.value)]
    if isinstance(value, Comp):
        return ["G", encode_value(value.iter)]
    return ["U"]


def _opt(value: Value | None) -> Any:
    return None if value is None else encode_value(value)


def encode_function(fn: FunctionFacts, lines: bool = True) -> list[Any]:
    return [
        fn.name,
        fn.is_async,
        [encode_value(d) for d in fn.decorators],
        [[name, _opt(ann), _opt(default)] for name, ann, default in fn.params],
        _opt(fn.returns),
        [encode_value(v) for v in fn.yields],
        [encode_value(v) for v in fn.returned],
        fn.line if lines else 0,
        [[position, chain] for position, chain in fn.param_reads],
        [encode_value(v) for v in fn.raised],
        None if fn.plain_calls is None else list(fn.plain_calls),
        None
        if fn.first_lock is None
        else [encode_value(fn.first_lock[0]), [encode_value(v) for v in fn.first_lock[1]]],
        fn.relays_runtime_call,
        None
        if fn.grows_over is None
        else [[encode_value(v) for v in loops] for loops in fn.grows_over],
        list(fn.self_loads),
    ]


def encode_class(cls: ClassFacts, lines: bool = True) -> list[Any]:
    return [
        cls.name,
        cls.qualname,
        [encode_value(b) for b in cls.bases],
        [[k, encode_value(v)] for k, v in cls.keywords],
        [encode_value(d) for d in cls.decorators],
        [[k, encode_value(v)] for k, v in cls.attributes],
        [[k, encode_value(v)] for k, v in cls.annotations],
        [encode_function(m, lines) for m in cls.methods],
        [encode_class(c, lines) for c in cls.inner],
        cls.line if lines else 0,
    ]


def encode_module(facts: ModuleFacts, lines: bool = True) -> list[Any]:
    """`lines=False` leaves line numbers out (0): what no rule reads, for
    the digest of what a module's facts say (`facts_digest`)."""
    return [
        facts.module,
        facts.path,
        facts.is_package,
        facts.imports,
        sorted(facts.imported_packages),
        [encode_class(c, lines) for c in facts.classes.values()],
        [encode_function(f, lines) for f in facts.functions.values()],
        [[k, encode_value(v)] for k, v in facts.assignments.items()],
        [encode_value(c) for c in facts.calls],
        [[n, encode_value(k), encode_value(v)] for n, k, v in facts.item_assignments],
        [[n, encode_value(v)] for n, v in facts.rebinds],
        list(facts.in_memory_calls),
        [encode_value(c) for c in facts.prefetch_calls],
        list(facts.star_imports),
        [list(pair) for pair in facts.sentinels],
        list(facts.cache_counters),
    ]


def facts_digest(facts: ModuleFacts) -> str:
    """What the module's facts say, line numbers aside: an edit that moves
    code, or changes a body no fact keeps, leaves it unchanged."""
    text = json.dumps(encode_module(facts, lines=False), separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


# ---------------------------------------------------------------------------
# Decoding: every shape checked; recursion bounded by the data's own depth,
# which `_MAX_DEPTH` caps (a crafted file must not exhaust the stack).

_MAX_DEPTH = 200


def _fail(what: str) -> CodecError:
    return CodecError(f"malformed cached facts: {what}")


def _str(data: Any) -> str:
    if type(data) is not str:
        raise _fail("expected a string")
    return data


def _int(data: Any) -> int:
    if type(data) is not int:
        raise _fail("expected an integer")
    return data


def _bool(data: Any) -> bool:
    if type(data) is not bool:
        raise _fail("expected a boolean")
    return data


def _list(data: Any, length: int | None = None) -> list[Any]:
    if type(data) is not list or (length is not None and len(data) != length):
        raise _fail("expected a list" if length is None else f"expected {length} items")
    return data


def decode_value(data: Any, depth: int = 0) -> Value:
    if depth > _MAX_DEPTH:
        raise _fail("nested too deeply")
    if type(data) is not list or not data:
        raise _fail("expected a tagged value")
    tag, d = data[0], depth + 1
    if tag == "R" and len(data) == 2:
        return Ref(_str(data[1]))
    if tag == "A" and len(data) == 3:
        return Attr(decode_value(data[1], d), _str(data[2]))
    if tag == "C" and len(data) == 4:
        return Call(
            decode_value(data[1], d),
            tuple(decode_value(a, d) for a in _list(data[2])),
            tuple(_pair(item, d) for item in _list(data[3])),
        )
    if tag == "K" and len(data) == 2:
        v = data[1]
        if v is not None and type(v) not in (str, int, float, bool):
            raise _fail("a constant of another type")
        return Const(v)
    if tag == "B" and len(data) == 2:
        try:
            return Const(base64.b64decode(_str(data[1]), validate=True))
        except ValueError:
            raise _fail("bytes constant") from None
    if tag == "L" and len(data) == 2:
        return Local(_str(data[1]))
    if tag == "S" and len(data) == 2:
        return Seq(tuple(decode_value(i, d) for i in _list(data[1])))
    if tag == "M" and len(data) == 2:
        items = []
        for item in _list(data[1]):
            key, value = _list(item, 2)
            items.append((decode_value(key, d), decode_value(value, d)))
        return Mapping(tuple(items))
    if tag == "X" and len(data) == 3:
        return Subscript(
            decode_value(data[1], d), tuple(decode_value(i, d) for i in _list(data[2]))
        )
    if tag == "W" and len(data) == 2:
        return Await(decode_value(data[1], d))
    if tag == "G" and len(data) == 2:
        return Comp(decode_value(data[1], d))
    if tag == "U" and len(data) == 1:
        return UNKNOWN
    raise _fail(f"unknown value tag {tag!r}")


def _pair(item: Any, depth: int) -> tuple[str, Value]:
    key, value = _list(item, 2)
    return _str(key), decode_value(value, depth)


def _opt_value(data: Any, depth: int) -> Value | None:
    return None if data is None else decode_value(data, depth)


def decode_function(data: Any) -> FunctionFacts:
    (
        name,
        is_async,
        decorators,
        params,
        returns,
        yields,
        returned,
        line,
        reads,
        raised,
        plain,
        lock,
        runtime,
        grows,
        self_loads,
    ) = _list(data, 15)
    out_params = []
    for item in _list(params):
        pname, ann, default = _list(item, 3)
        out_params.append((_str(pname), _opt_value(ann, 0), _opt_value(default, 0)))
    first_lock = None
    if lock is not None:
        chain, entered = _list(lock, 2)
        first_lock = (decode_value(chain), tuple(decode_value(v) for v in _list(entered)))
    out_reads = []
    for item in _list(reads):
        position, chain = _list(item, 2)
        out_reads.append((_int(position), _str(chain)))
    return FunctionFacts(
        _str(name),
        _bool(is_async),
        tuple(decode_value(v) for v in _list(decorators)),
        tuple(out_params),
        _opt_value(returns, 0),
        tuple(decode_value(v) for v in _list(yields)),
        tuple(decode_value(v) for v in _list(returned)),
        _int(line),
        tuple(out_reads),
        tuple(decode_value(v) for v in _list(raised)),
        None if plain is None else tuple(_str(v) for v in _list(plain)),
        first_lock,
        _bool(runtime),
        None
        if grows is None
        else tuple(tuple(decode_value(v) for v in _list(loops)) for loops in _list(grows)),
        tuple(_str(chain) for chain in _list(self_loads)),
    )


class LazyMethods(Sequence[FunctionFacts]):
    """A cached class's methods, decoded (and validated) on first use: a run
    that lints one file reads the methods of few of the project's classes,
    and decoding them all was half of loading the index. A malformed method
    raises `StaleFacts` then."""

    __slots__ = ("_items", "_raw")

    def __init__(self, raw: list[Any]) -> None:
        self._raw = raw
        self._items: tuple[FunctionFacts, ...] | None = None

    def _decoded(self) -> tuple[FunctionFacts, ...]:
        if self._items is None:
            try:
                self._items = tuple(decode_function(m) for m in self._raw)
            except (CodecError, RecursionError) as exc:
                raise StaleFacts(str(exc)) from exc
        return self._items

    @overload
    def __getitem__(self, index: int) -> FunctionFacts: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[FunctionFacts, ...]: ...
    def __getitem__(self, index: int | slice) -> FunctionFacts | tuple[FunctionFacts, ...]:
        return self._decoded()[index]

    def __len__(self) -> int:
        return len(self._raw)

    def __iter__(self) -> Iterator[FunctionFacts]:
        return iter(self._decoded())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyMethods):
            other = other._decoded()
        return isinstance(other, tuple) and self._decoded() == other

    def __hash__(self) -> int:
        return hash(self._decoded())

    def __repr__(self) -> str:
        return repr(self._decoded())

    def __reduce__(self) -> tuple[type[tuple[FunctionFacts, ...]], tuple[Any, ...]]:
        return (tuple, (self._decoded(),))  # a worker gets a plain tuple


def decode_class(data: Any, depth: int = 0, lazy: bool = False) -> ClassFacts:
    if depth > _MAX_DEPTH:
        raise _fail("classes nested too deeply")
    name, qualname, bases, keywords, decorators, attributes, annotations, methods, inner, line = (
        _list(data, 10)
    )
    return ClassFacts(
        _str(name),
        _str(qualname),
        tuple(decode_value(v) for v in _list(bases)),
        tuple(_pair(item, 0) for item in _list(keywords)),
        tuple(decode_value(v) for v in _list(decorators)),
        tuple(_pair(item, 0) for item in _list(attributes)),
        tuple(_pair(item, 0) for item in _list(annotations)),
        LazyMethods(_list(methods)) if lazy else tuple(decode_function(m) for m in _list(methods)),
        tuple(decode_class(c, depth + 1, lazy) for c in _list(inner)),
        _int(line),
    )


def _named(items: list[Any], decode: Callable[[Any], Any]) -> dict[str, Any]:
    out = {}
    for item in items:
        decoded = decode(item)
        out[decoded.name] = decoded
    return out


def _str_pair(item: Any) -> tuple[str, str]:
    first, second = _list(item, 2)
    return _str(first), _str(second)


def decode_module(data: Any, lazy: bool = False) -> ModuleFacts:
    """`lazy`: methods are decoded on first use (`LazyMethods`); the caller
    must then handle `StaleFacts`, which a malformed method raises there."""
    (
        module,
        path,
        is_package,
        imports,
        packages,
        classes,
        functions,
        assignments,
        calls,
        item_assignments,
        rebinds,
        in_memory_calls,
        prefetch_calls,
        star_imports,
        sentinels,
        cache_counters,
    ) = _list(data, 16)
    if type(imports) is not dict or not all(type(v) is str for v in imports.values()):
        raise _fail("imports")
    out_calls = []
    for item in _list(calls):
        call = decode_value(item)
        if not isinstance(call, Call):
            raise _fail("a statement call that is not a call")
        out_calls.append(call)
    out_prefetches = []
    for item in _list(prefetch_calls):
        call = decode_value(item)
        if not isinstance(call, Call):
            raise _fail("a prefetch call that is not a call")
        out_prefetches.append(call)
    out_items = []
    for item in _list(item_assignments):
        name, key, value = _list(item, 3)
        out_items.append((_str(name), decode_value(key), decode_value(value)))
    return ModuleFacts(
        _str(module),
        _str(path),
        _bool(is_package),
        imports,
        frozenset(_str(p) for p in _list(packages)),
        _named(_list(classes), lambda c: decode_class(c, 0, lazy)),
        _named(_list(functions), decode_function),
        dict(_pair(item, 0) for item in _list(assignments)),
        tuple(out_calls),
        tuple(out_items),
        tuple(_pair(item, 0) for item in _list(rebinds)),
        tuple(_str(name) for name in _list(in_memory_calls)),
        tuple(out_prefetches),
        tuple(_str(name) for name in _list(star_imports)),
        tuple(_str_pair(item) for item in _list(sentinels)),
        tuple(_str(name) for name in _list(cache_counters)),
    )


__all__ = [
    "CodecError",
    "LazyMethods",
    "StaleFacts",
    "decode_module",
    "decode_value",
    "encode_module",
    "encode_value",
    "facts_digest",
]
