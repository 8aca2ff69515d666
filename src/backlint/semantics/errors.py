"""Exceptions and responses: which exception text is meant for clients, what
sends text to an HTTP client, and whether an expression carries an
exception's text (`str(e)`, `f"{e}"`, `traceback.format_exc()`), through
local variables.
"""

from __future__ import annotations

import libcst as cst

from backlint.semantics.context import Defined, FileContext, Parameter, Scope, ScopeKind
from backlint.semantics.facts import (
    DATA_METHODS,
    IMPURE_BUILTINS,
    Call,
    ClassFacts,
    Const,
    FunctionFacts,
    Value,
    dotted,
)
from backlint.semantics.flow import (
    MAX_DEPTH,
    caught_types,
    except_handler,
    local_values,
    reaching_assignment,
)
from backlint.semantics.python import ENUM_BASES
from backlint.semantics.security import is_request_data, name_words
from backlint.semantics.tree import descendants

# Responses nest models in models (`Response(data=Result(outputs={k:
# Output(message={"stackTrace": tb})}))`): follow deeper than other flows.
_MAX_DEPTH = 2 * MAX_DEPTH

# Calls whose arguments reach the HTTP client.
RESPONSE_CLASSES = frozenset(
    {
        "fastapi.HTTPException",
        "fastapi.exceptions.HTTPException",
        "starlette.exceptions.HTTPException",
        "rest_framework.response.Response",
        "django.http.JsonResponse",
        "django.http.response.JsonResponse",
        "django.http.HttpResponse",
        "django.http.response.HttpResponse",
    }
)
# Modules whose response classes all send their content to the client.
RESPONSE_MODULES = (
    "fastapi.responses.",
    "starlette.responses.",
    "django.http.HttpResponse",
    "django.http.response.HttpResponse",
    "rest_framework.exceptions.",
)
# Exceptions whose text is written for clients.
CLIENT_FACING_EXCEPTIONS = frozenset(
    {
        "pydantic.ValidationError",
        "pydantic.error_wrappers.ValidationError",
        "pydantic_core.ValidationError",
        "pydantic_core._pydantic_core.ValidationError",
        "django.core.exceptions.ValidationError",
        "django.core.exceptions.PermissionDenied",
        "django.core.exceptions.SuspiciousOperation",
        "django.http.Http404",
        "fastapi.HTTPException",
        "fastapi.exceptions.HTTPException",
        "fastapi.exceptions.RequestValidationError",
        "starlette.exceptions.HTTPException",
        "marshmallow.ValidationError",
        "marshmallow.exceptions.ValidationError",
        "jsonschema.ValidationError",
        "jsonschema.exceptions.ValidationError",
        "wtforms.validators.ValidationError",
    }
)
CLIENT_FACING_PREFIXES = ("rest_framework.exceptions.", "django.forms.")
# Django's errors about a lookup or a field name (`Cannot resolve keyword 'x'
# into field. Choices are: ...`, `Unsupported lookup 'x' for CharField`,
# `Device has no field named 'x'`): the text names the model's fields and the
# lookup asked for, no value, SQL, path or host; caught by name around
# `queryset.get(**params)` of the client's keys (nautobot's nested
# serializers), it tells the client which key is wrong. Only when caught by
# name: `except Exception` of the same lookup is still judged broad.
LOOKUP_ERRORS = frozenset(
    {
        "django.core.exceptions.FieldError",
        "django.core.exceptions.FieldDoesNotExist",
        "django.db.models.FieldDoesNotExist",
    }
)
# Builtin exceptions whose text is not written for clients: caught broadly, or
# raised by the system with paths, hosts and codes in the text. Builtins that
# applications raise with messages for the caller (`ValueError`, `KeyError`,
# `TypeError`, `PermissionError`, `AssertionError`...) are not judged.
LEAKY_BUILTINS = frozenset(
    f"builtins.{name}"
    for name in (
        "Exception",
        "BaseException",
        "OSError",
        "IOError",
        "EnvironmentError",
        "ConnectionError",
        "TimeoutError",
        "FileNotFoundError",
        "UnicodeError",
        "UnicodeDecodeError",
        "UnicodeEncodeError",
        "ImportError",
        "ModuleNotFoundError",
        "RecursionError",
        "MemoryError",
    )
)
TRACEBACK_TEXT = frozenset(
    {
        "traceback.format_exc",
        "traceback.format_exception",
        "traceback.format_tb",
        "traceback.format_stack",
    }
)
_TEXT_FUNCTIONS = frozenset({"builtins.str", "builtins.repr"})
# Builtins whose result is a number or a truth value: `len(errors)` tells how
# many failed, never what they said.
_NUMBER_FUNCTIONS = frozenset(
    {
        "builtins.len",
        "builtins.bool",
        "builtins.int",
        "builtins.float",
        "builtins.isinstance",
        "builtins.any",
        "builtins.all",
        "builtins.sum",
        "builtins.hash",
        "builtins.id",
    }
)
_TEXT_ATTRIBUTES = frozenset({"args", "message", "msg", "strerror"})


def is_response(ctx: FileContext, name: str | None) -> bool:
    return name is not None and (name in RESPONSE_CLASSES or name.startswith(RESPONSE_MODULES))


def exception_is_leaky(ctx: FileContext, handler: cst.ExceptHandler, scope: Scope) -> bool:
    """Whether the exception an `except` clause catches may carry text that is
    not meant for clients: broad (`Exception`), system, database, parsing or
    third-party errors. The project's own exceptions, validation errors and
    HTTP exceptions are meant for clients; unresolved names are not judged."""
    if handler.type is None or not types_are_leaky(ctx, handler.type, scope):
        return False
    if _in_drf_parser(ctx, handler):
        return False
    return not _about_local_input(ctx, handler, scope)


# Words of a library exception about malformed input (`etree.ParseError`,
# `netaddr.AddrFormatError`, `json.JSONDecodeError`, `InvalidURL`): its text
# says where the input is wrong, and the input is the caller's own...
_INPUT_ERROR_WORDS = frozenset(
    {
        "parse",
        "parser",
        "parsing",
        "decode",
        "decoding",
        "format",
        "syntax",
        "invalid",
        "malformed",
        "yaml",
        # File formats read from the client's upload: pypdf's `PdfReadError`,
        # `zipfile.BadZipFile`, Pillow's `UnidentifiedImageError`.
        "pdf",
        "zip",
        "unidentified",
    }
)
# ... unless the exception is about a connection or a remote answer.
_REMOTE_WORDS = frozenset(
    {"http", "request", "response", "connection", "connect", "timeout", "network", "url", "proxy"}
)


# Pydantic's model classes: building one from the client's data can only fail
# with a validation error about that data.
_PYDANTIC_MODELS = frozenset({"pydantic.BaseModel", "pydantic.main.BaseModel", "sqlmodel.SQLModel"})
_VALIDATING_METHODS = frozenset({"model_validate", "parse_obj", "model_validate_json"})


def _is_pydantic_model(ctx: FileContext, name: str) -> bool:
    """A project class that derives (through project classes) from Pydantic's."""
    return any(
        dotted(base) in _PYDANTIC_MODELS for cls in ctx.index.ancestors(name) for base in cls.bases
    )


def _only_validates(ctx: FileContext, body: cst.BaseSuite, scope: Scope) -> bool:
    """The `try` body is one statement that builds a project Pydantic model
    (`Form(**data)`, `Form.model_validate(data)`): what it raises describes
    the data it was given (open-webui's `OpenAIChatCompletionForm(**form_data)`)."""
    statements = body.body if isinstance(body, cst.IndentedBlock) else []
    if len(statements) != 1 or not isinstance(statements[0], cst.SimpleStatementLine):
        return False
    line = statements[0]
    if len(line.body) != 1:
        return False
    small = line.body[0]
    value = small.value if isinstance(small, (cst.Assign, cst.AnnAssign, cst.Expr)) else None
    if not isinstance(value, cst.Call):
        return False
    func = value.func
    if isinstance(func, cst.Attribute) and func.attr.value in _VALIDATING_METHODS:
        func = func.value
    name = ctx.qualified_name(func, scope)
    return name is not None and _is_pydantic_model(ctx, name)


def _about_local_input(ctx: FileContext, handler: cst.ExceptHandler, scope: Scope) -> bool:
    """Every caught class is an input error (see `_INPUT_ERROR_WORDS`) and the
    `try` body awaits nothing: it parsed what it was given (the client's
    input), not the answer of another server. Or the `try` body only builds
    a Pydantic model of the project from data (`_only_validates`)."""
    kind = handler.type
    if kind is None:
        return False
    parent = ctx.parent(handler)
    if isinstance(parent, cst.Try) and (
        _only_validates(ctx, parent.body, scope)
        or _only_parses(ctx, parent.body, scope)
        or _raised_by_callee(ctx, parent.body, kind, scope)
        or _raised_by_callees(ctx, parent.body, kind, scope)
    ):
        return True
    types = caught_types(kind)
    for expr in types:
        name = ctx.qualified_name(expr, scope)
        if name is None:
            return False
        if not types_are_leaky(ctx, expr, scope):
            continue  # ValueError, the project's own...
        words = set(name_words(name.rsplit(".", 1)[-1]))
        if not words & _INPUT_ERROR_WORDS or words & _REMOTE_WORDS:
            return False
    body = ctx.parent(handler)
    if not isinstance(body, cst.Try):
        return False
    prune = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
    return not any(
        isinstance(n, cst.Await)
        and not is_request_data(ctx, n, scope)
        and not _reads_upload(ctx, n, scope)
        for n in descendants(body.body, prune=prune)
    )  # `await request.body()` reads the client's input, not a remote answer


# Calls of a `try` body that only converts data it was given (the request's
# own values): builtins other than these...
_IMPURE_BUILTINS = IMPURE_BUILTINS
# ... methods of strings, dicts and lists, and of Pydantic models...
_DATA_METHODS = DATA_METHODS
# ... and functions named for parsing (`json.loads`, `bolt11.decode`,
# `SpanQuery.from_dict`, `cast_bool_from_str`, `unflatten`): not `validate_*` or
# `convert_*`, which may ask another server (`validate_provider_key`).
_PARSE_WORDS = frozenset(
    {
        "parse", "parser", "decode", "loads", "cast", "from", "fromisoformat", "fromhex",
        "fromtimestamp", "deserialize", "unmarshal", "unquote", "literal", "b64decode",
        "coerce", "flatten", "unflatten",
    }
)  # fmt: skip
# Words of a function that reaches something else (a server, a file, a database).
_IO_WORDS = frozenset(
    {
        "fetch", "load", "read", "open", "save", "send", "request", "query", "execute",
        "download", "upload", "connect", "call", "post", "put", "delete", "create",
        "update", "insert", "write", "commit", "resolve", "lookup", "get", "find",
        "urlopen", "run", "invoke", "refresh", "sync", "import",
    }
)  # fmt: skip
_NOT_RUN = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
# Builtins that convert a value (and fail on a malformed one).
_CONVERSIONS = frozenset(
    f"builtins.{name}"
    for name in (
        "int",
        "float",
        "bool",
        "complex",
        "bytes",
        "bytearray",
        "dict",
        "list",
        "tuple",
        "set",
        "frozenset",
        "ord",
        "chr",
    )
)


# Functions and classes of the standard library that only convert the value
# they are given (and fail on a malformed one), reaching no file, socket,
# process or setting: what they raise describes that value (`badly formed
# hexadecimal UUID string`, `'x' does not appear to be an IPv4 or IPv6
# address`, `Invalid isoformat string: 'x'`). Not `json.load` or
# `base64.decode`, which read a file object, nor `os.path`.
PURE_CONVERSIONS = frozenset(
    {
        "uuid.UUID", "decimal.Decimal", "fractions.Fraction",
        "datetime.date", "datetime.datetime", "datetime.time", "datetime.timedelta",
        "datetime.date.fromisoformat", "datetime.datetime.fromisoformat",
        "datetime.time.fromisoformat", "datetime.datetime.strptime",
        "datetime.date.fromisocalendar", "datetime.datetime.fromisocalendar",
        "datetime.date.fromordinal", "datetime.datetime.fromordinal",
        "datetime.date.fromtimestamp", "datetime.datetime.fromtimestamp",
        "datetime.datetime.utcfromtimestamp",
        "json.loads",
        "base64.b64decode", "base64.urlsafe_b64decode", "base64.standard_b64decode",
        "base64.b32decode", "base64.b16decode", "base64.b85decode", "base64.a85decode",
        "base64.decodebytes",
        "shlex.split", "struct.unpack", "re.compile",
    }
)  # fmt: skip
# Modules all of whose functions and classes are such conversions.
PURE_CONVERSION_MODULES = ("ipaddress.", "binascii.", "urllib.parse.")
# Other standard-library functions that only compute a value from the ones
# they are given (an encoding, an escape, a match): data handling, not a
# conversion of the input. Not `uuid.uuid1`, which may ask the system for a
# MAC address.
PURE_FUNCTIONS = frozenset(
    {
        "uuid.uuid3", "uuid.uuid4", "uuid.uuid5", "json.dumps",
        "base64.b64encode", "base64.urlsafe_b64encode", "base64.standard_b64encode",
        "base64.b32encode", "base64.b16encode", "base64.b85encode", "base64.a85encode",
        "base64.encodebytes", "html.escape", "html.unescape", "shlex.quote",
        "struct.pack", "struct.calcsize", "re.match", "re.fullmatch", "re.search",
        "re.findall", "re.split", "re.escape",
    }
)  # fmt: skip


def pure_stdlib(ctx: FileContext, name: str) -> bool | None:
    """A standard-library function that only handles the values it is given:
    True for a conversion (`PURE_CONVERSIONS`, `PURE_CONVERSION_MODULES`),
    False for other data handling (`PURE_FUNCTIONS`), None for anything else
    (and for a project module of the same name)."""
    if name.split(".", 1)[0] in ctx.project_roots():
        return None
    if name in PURE_CONVERSIONS or name.startswith(PURE_CONVERSION_MODULES):
        return True
    if name in PURE_FUNCTIONS:
        return False
    return None


def _only_parses(ctx: FileContext, body: cst.BaseSuite, scope: Scope) -> bool:
    """The `try` body only converts values it was given: it awaits nothing
    but the request's body or an upload, enters no context manager, and every
    call is a builtin conversion (`int(value)`), a string/dict method, a
    response being built, or a function named for parsing (`json.loads`,
    `bolt11.decode`, `SpanQuery.from_dict(query.model_dump())`): whatever it
    raises, even caught as `Exception`, is about that input (label-studio's
    `int_from_request`, phoenix's span query DSL)."""
    # A `try` that converts nothing (reads a setting) is not about input.
    return _body_converts(ctx, body, scope) is True


def _body_converts(
    ctx: FileContext, body: cst.BaseSuite, scope: Scope, helper: bool = False
) -> bool | None:
    """`_only_parses` of a `try` body, or (`helper`) of the body of a nested
    function it calls, which may await nothing at all and yield nothing:
    None when it does more than convert data, else whether it converts
    something."""
    parses = False
    for node in descendants(body, prune=_NOT_RUN):
        if isinstance(node, cst.Await):
            if helper or not (is_request_data(ctx, node, scope) or _reads_upload(ctx, node, scope)):
                return None
        elif isinstance(node, cst.With) or (
            isinstance(node, cst.For) and node.asynchronous is not None
        ):
            return None  # a context manager may open a connection or a file
        elif helper and isinstance(node, cst.Yield | cst.Global | cst.Nonlocal):
            return None
        elif isinstance(node, cst.Call):
            kind = _converts(ctx, node, scope)
            if kind is None:
                return None
            parses = parses or kind
    return parses


def _converts(ctx: FileContext, call: cst.Call, scope: Scope) -> bool | None:
    """One call of `_only_parses`: True for a conversion (`int(value)`,
    `json.loads`, `uuid.UUID(value)`, a parser, a project helper calling a
    standard-library conversion), False for a call that only handles data (a
    string method, a response being built), None for anything else."""
    func = call.func
    name = ctx.qualified_name(func, scope)
    if name is not None and name.startswith("builtins."):
        if name in _IMPURE_BUILTINS:
            return None
        return name in _CONVERSIONS
    if is_response(ctx, name):
        return False
    if name is None and isinstance(func, cst.Name):
        helper = _nested_helper(ctx, func, scope)
        if helper is not None:
            return _helper_converts(ctx, *helper)
    if name is not None and _data_class(ctx, name):
        return True  # `SpanKind(value)`: fails only on a value it cannot hold
    pure = pure_stdlib(ctx, name) if name is not None else None
    if pure is not None:
        return pure  # `uuid.UUID(value)`, `ipaddress.ip_address(value)`
    if isinstance(func, cst.Attribute):
        last = func.attr.value
    elif isinstance(func, cst.Name):
        last = func.value
    else:
        return None
    words = set(name_words(last))
    # `value.get(key)` of a local dict, not `requests.get(url)`.
    data_method = isinstance(func, cst.Attribute) and last in _DATA_METHODS and name is None
    if words & _IO_WORDS:
        return False if data_method else None
    if words & _PARSE_WORDS:
        return True
    if data_method:
        return False
    return handles_data(ctx, name) if name is not None else None


def _nested_helper(
    ctx: FileContext, func: cst.Name, scope: Scope
) -> tuple[cst.FunctionDef, Scope] | None:
    """The sync, undecorated function an enclosing function defines once
    under this name (phoenix's `convert_api_span_for_insertion`, defined in
    the route that calls it), and the scope of its body."""
    owner, bindings = ctx.bindings(func.value, scope)
    if owner is None or owner.kind is not ScopeKind.FUNCTION or len(bindings) != 1:
        return None
    binding = bindings[0]
    if not isinstance(binding, Defined):
        return None
    node = binding.node
    if not isinstance(node, cst.FunctionDef) or node.asynchronous is not None or node.decorators:
        return None
    return node, Scope(node, ScopeKind.FUNCTION, False, owner)


def _helper_converts(ctx: FileContext, node: cst.FunctionDef, scope: Scope) -> bool | None:
    """`_converts` of a call of a nested helper: its body is read as a `try`
    body is by `_only_parses` (no await at all), so that what it raises is
    about the values it was given. Memoised; a helper that calls itself
    (directly or through another) is not summarised."""
    key = ("errors.helper_converts", id(node))
    if key in ctx.cache:
        answer: bool | None = ctx.cache[key]
        return answer
    ctx.cache[key] = None  # while reading it: a recursive call is not plain
    answer = _body_converts(ctx, node.body, scope, helper=True)
    ctx.cache[key] = answer
    return answer


# Library bases of a class whose instances only hold values: an enum, a
# named tuple, a Pydantic model...
_DATA_BASES = frozenset(
    {
        *ENUM_BASES,
        "typing.NamedTuple",
        *_PYDANTIC_MODELS,
    }
)
# ... and bases that add no code of their own (`class Kind(str, Enum)`).
_PLAIN_BASES = frozenset({"builtins.object", "builtins.str", "builtins.int"})
_DATACLASS = "dataclasses.dataclass"
# Methods that run code of the class when it is built.
_CONSTRUCTION_HOOKS = frozenset({"__init__", "__new__", "__post_init__", "__init_subclass__"})


def _data_class(ctx: FileContext, name: str) -> bool:
    """A project class that only holds the values it is built from: an enum,
    a named tuple, a `@dataclass` or a Pydantic model, whose project bases
    are such classes too, none of them defining `__init__`, `__new__` or
    `__post_init__` or naming a metaclass (phoenix's `SpanKind` enum and
    `Span` dataclass): building one fails only on a value it cannot hold
    (`'x' is not a valid SpanKind`)."""
    holds = False
    for cls in ctx.index.ancestors(name):
        if any(m.name in _CONSTRUCTION_HOOKS for m in cls.methods):
            return False
        if any(key == "metaclass" for key, _ in cls.keywords):
            return False
        holds = holds or _is_dataclass(cls)
        for base in cls.bases:
            target = dotted(base)
            if target is None:
                return False
            target = ctx.index.canonical(target)
            if target in _DATA_BASES:
                holds = True
            elif target not in _PLAIN_BASES and ctx.index.find_class(target) is None:
                return False  # a library's class: its `__init__` is not read
    return holds


def _is_dataclass(cls: ClassFacts) -> bool:
    for decorator in cls.decorators:
        target = dotted(decorator.func) if isinstance(decorator, Call) else dotted(decorator)
        if target == _DATACLASS:
            return True
    return False


def handles_data(ctx: FileContext, name: str) -> bool | None:
    """A project function that only handles the data it is given: a short
    sync body that awaits, enters and yields nothing and calls only builtin
    conversions, string/dict methods, standard-library functions that only
    handle values (`pure_stdlib`) and other such functions of the project (lnbits'
    `filter_dict_keys(invoice.data, fields)`, a dict comprehension): it
    reaches no server, file or database. None when it may do more; else
    whether it (or a helper it calls) calls a standard-library conversion
    (lnbits' `to_valid_user_id`, `uuid.UUID(hex=value)`): the index leaves
    the builtins a helper calls out, so `int(value)` alone does not tell."""
    seen: set[str] = set()
    pending = [ctx.index.canonical(name)]
    converts = False
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        if len(seen) > 4:
            return None
        fn = ctx.index.find_function(current)
        if fn is None or fn.plain_calls is None:
            return None
        for called in fn.plain_calls:  # builtins and data methods are left out
            pure = pure_stdlib(ctx, called)
            if pure is not None:
                converts = converts or pure
                continue
            if set(name_words(called.rpartition(".")[2])) & _IO_WORDS:
                return None  # `fetch_invoice_row`: named for reaching elsewhere
            pending.append(ctx.index.canonical(called))
    return converts


def _raised_by_callee(
    ctx: FileContext, body: cst.BaseSuite, kind: cst.BaseExpression, scope: Scope
) -> bool:
    """The `try` body is one call of a project function or method that raises
    every caught class itself (mayan's `MetadataParser.get_class` raising
    `ImproperlyConfigured` with a translated "Invalid parser" message): the
    text is the project's own, written for that caller. Broad and builtin
    classes are not judged so."""
    statements = body.body if isinstance(body, cst.IndentedBlock) else []
    if len(statements) != 1 or not isinstance(statements[0], cst.SimpleStatementLine):
        return False
    line = statements[0]
    if len(line.body) != 1:
        return False
    small = line.body[0]
    value = (
        small.value
        if isinstance(small, cst.Assign | cst.AnnAssign | cst.Expr | cst.Return)
        else None
    )
    if isinstance(value, cst.Await):
        value = value.expression
    if not isinstance(value, cst.Call):
        return False
    name = ctx.qualified_name(value.func, scope)
    callee = _project_function(ctx, name) if name is not None else None
    if callee is None or not callee.raised:
        return False
    raised = set()
    for exc in callee.raised:
        target = dotted(exc.func) if isinstance(exc, Call) else dotted(exc)
        if target is not None:
            raised.add(ctx.index.canonical(target))
    types = caught_types(kind)
    for expr in types:
        caught = ctx.qualified_name(expr, scope)
        if caught is None:
            return False
        caught = ctx.index.canonical(caught)
        if caught.startswith("builtins.") or caught not in raised:
            return False
    return True


def _raised_by_callees(
    ctx: FileContext, body: cst.BaseSuite, kind: cst.BaseExpression, scope: Scope
) -> bool:
    """The `try` body calls several functions, and a library class it catches
    comes only from project functions that raise that library's exceptions
    themselves with fixed texts (lnbits' `handle()`, whose service layer
    wraps httpx, DNS and pydantic errors into `LnurlResponseException("LNURL
    request failed.")` or `InvalidLnurl`, caught as `LnurlException` with a
    `ValueError` of the project's own check):

    - every caught class is a library class or one whose text is meant for
      clients (`ValueError`, the project's own); no broad or system builtin;
    - no call of the try reaches the caught classes' library (`url_decode`
      of `lnurl`) or a method whose owner is not known (it may be one of
      that library's objects); builtins, responses, methods of strings and
      dicts and project functions are the only calls;
    - every project function called raises that library's classes only with
      constant texts or none (`raise InvalidLnurl from exc`), never a text
      built from a value or a name re-raised, and some of them do raise them:
      the library's exceptions are the project's own messages here; one that
      raises none of them is defined in a module that does not import that
      library (lnbits' `check_callback_url`); project classes built run no
      `__init__` of their own.

    A library class is taken to be raised when the project raises a class of
    the same package (`InvalidLnurl` for `LnurlException`): the index does
    not hold the library's class tree."""
    types = caught_types(kind)
    packages: set[str] = set()
    for expr in types:
        caught = ctx.qualified_name(expr, scope)
        if caught is None:
            return False
        if not types_are_leaky(ctx, expr, scope):
            continue  # ValueError, the project's own...
        caught = ctx.index.canonical(caught)
        if caught.startswith("builtins."):
            return False
        packages.add(caught.split(".", 1)[0])
    if not packages:
        return False
    raisers: set[str] = set()
    for node in descendants(body, prune=_NOT_RUN):
        if isinstance(node, cst.Await) and not isinstance(node.expression, cst.Call):
            return False
        if not isinstance(node, cst.Call):
            continue
        func = node.func
        name = ctx.qualified_name(func, scope)
        if name is None:
            if isinstance(func, cst.Attribute) and func.attr.value in _DATA_METHODS:
                continue  # `value.strip()`
            return False
        if name.startswith("builtins.") or is_response(ctx, name):
            continue
        name = ctx.index.canonical(name)
        if name.split(".", 1)[0] in packages:
            return False  # the library's own call: its text is the library's
        callee = _project_function(ctx, name)
        if callee is None:
            if name.split(".", 1)[0] not in ctx.project_roots():
                continue  # another library's function
            if not _plain_class(ctx, name):
                return False  # a project function the index does not know, a class with code
            continue
        raises = set()
        for exc in callee.raised:
            target = dotted(exc.func) if isinstance(exc, Call) else dotted(exc)
            if target is None:
                return False  # `raise error`: a caught exception raised again
            package = ctx.index.canonical(target).split(".", 1)[0]
            if package not in packages:
                continue
            if not _fixed_text(exc):
                return False
            raises.add(package)
        imported = _imported_packages(ctx, name)
        if imported is None or (imported & packages) - raises:
            return False  # it uses the library and does not wrap its errors
        raisers |= raises
    return raisers == packages


def _imported_packages(ctx: FileContext, name: str) -> frozenset[str] | None:
    """The top-level packages the module defining project symbol `name` imports."""
    facts = ctx.index.module_of(name)
    return facts.imported_packages if facts is not None else None


def _plain_class(ctx: FileContext, name: str) -> bool:
    """A project class none of whose project classes runs code when built."""
    found = False
    for cls in ctx.index.ancestors(name):
        found = True
        if any(m.name in _CONSTRUCTION_HOOKS for m in cls.methods):
            return False
    return found


def _fixed_text(exc: Value) -> bool:
    """`Error`, `Error()`, `Error("LNURL request failed.")`: no text built
    from a value."""
    if not isinstance(exc, Call):
        return True
    values = [*exc.args, *(value for _, value in exc.kwargs)]
    return all(isinstance(v, Const) for v in values)


def _project_function(ctx: FileContext, name: str) -> FunctionFacts | None:
    """A project function, or a method found on a project class or its
    project bases (`MetadataParser.get_class` defined on a base)."""
    found = ctx.index.find_function(name)
    if found is not None:
        return found
    owner, _, method = name.rpartition(".")
    if not owner:
        return None
    for cls in ctx.index.ancestors(owner):
        fn = cls.method(method)
        if fn is not None:
            return fn
    return None


# DRF's parsers: `parse()` turns the request's body into data, and its errors
# (`ParseError`) describe that body, as DRF's own `JSONParser` does.
_DRF_PARSERS = "rest_framework.parsers."


def _in_drf_parser(ctx: FileContext, handler: cst.ExceptHandler) -> bool:
    """The handler is in the `parse()` method of a DRF parser class."""
    function: cst.FunctionDef | None = None
    for ancestor in ctx.ancestors(handler):
        if isinstance(ancestor, cst.FunctionDef):
            if function is not None:
                return False  # a nested function
            function = ancestor
        elif isinstance(ancestor, cst.ClassDef):
            if function is None or function.name.value != "parse":
                return False
            return _is_drf_parser(ctx, ancestor)
    return False


def _is_drf_parser(ctx: FileContext, cls: cst.ClassDef) -> bool:
    for base in cls.bases:
        name = ctx.qualified_name(base.value, ctx.module_scope)
        if name is None:
            continue
        if name.startswith(_DRF_PARSERS):
            return True
        for ancestor in ctx.index.ancestors(name):
            if any((dotted(b) or "").startswith(_DRF_PARSERS) for b in ancestor.bases):
                return True
    return False


UPLOAD_FILES = frozenset(
    {
        "fastapi.UploadFile",
        "fastapi.datastructures.UploadFile",
        "starlette.datastructures.UploadFile",
    }
)


def _reads_upload(ctx: FileContext, node: cst.Await, scope: Scope) -> bool:
    """`await file.read()` on an `UploadFile` parameter: the client's own file."""
    call = node.expression
    if not (
        isinstance(call, cst.Call)
        and isinstance(call.func, cst.Attribute)
        and call.func.attr.value == "read"
        and isinstance(call.func.value, cst.Name)
    ):
        return False
    owner, bindings = ctx.bindings(call.func.value.value, scope)
    if owner is None or len(bindings) != 1 or not isinstance(bindings[0], Parameter):
        return False
    annotation = bindings[0].param.annotation
    if annotation is None:
        return False
    return ctx.qualified_name(annotation.annotation, owner) in UPLOAD_FILES


def types_are_leaky(ctx: FileContext, kind: cst.BaseExpression, scope: Scope) -> bool:
    """The same for an exception class or a tuple of them."""
    types = caught_types(kind)
    for expr in types:
        name = ctx.qualified_name(expr, scope)
        if name is None:
            continue
        name = ctx.index.canonical(name)
        if name in CLIENT_FACING_EXCEPTIONS or name.startswith(CLIENT_FACING_PREFIXES):
            continue
        if name in LOOKUP_ERRORS:
            continue  # names the model's fields and the lookup asked for
        if "Validation" in name.rsplit(".", 1)[-1]:
            continue  # a library's validation error: its text describes the input
        if name.startswith("builtins."):
            if name in LEAKY_BUILTINS:
                return True
            continue
        if name.split(".", 1)[0] in ctx.project_roots() or ctx.index.find_class(name) is not None:
            continue  # the project's own exception
        return True  # a library's exception: database, parsing, network...
    return False


class ExceptionText:
    """Does an expression carry an exception's text? Follows local variables."""

    def __init__(self, ctx: FileContext, anchor: cst.CSTNode | None = None) -> None:
        self.ctx = ctx
        # The node being checked (visited by the walker, so its ancestors are
        # known): tells which of several `except ... as e` an `e` belongs to.
        self.anchor = anchor
        self._active: set[tuple[str, int]] = set()
        self._following = False

    def leaks(self, expr: cst.BaseExpression, scope: Scope, depth: int = 0) -> bool:
        if depth > _MAX_DEPTH:
            return False
        ctx = self.ctx
        if isinstance(expr, cst.Name):
            if self._exception(expr, scope):
                return True
            if self._item_leaks(expr, scope, depth):
                return True
            if not self._following and self.anchor is not None:
                # A name read by the checked statement: its value there, when
                # the same block assigned it last.
                value = reaching_assignment(ctx, expr.value, self.anchor)
                if value is not None:
                    self._following = True
                    try:
                        return self.leaks(value, scope, depth + 1)
                    finally:
                        self._following = False
            local = local_values(ctx, expr.value, scope)
            if local is None:
                return False
            key = (expr.value, id(local.scope))
            if key in self._active:
                return False
            self._active.add(key)
            following, self._following = self._following, True
            try:
                # A value given only under `if settings.DEBUG:` is for developers.
                return any(
                    self.leaks(v, local.scope, depth + 1)
                    for v in local.values
                    if not in_debug_branch(ctx, v)
                )
            finally:
                self._active.discard(key)
                self._following = following
        if isinstance(expr, cst.Call):
            name = ctx.qualified_name(expr.func, scope)
            if name in TRACEBACK_TEXT:
                return True
            if name in _TEXT_FUNCTIONS:
                return any(self._exception_expr(a.value, scope) for a in expr.args)
            if name in _NUMBER_FUNCTIONS:
                return False
            if isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "format":
                return self.leaks(expr.func.value, scope, depth + 1) or any(
                    self._text_part(a.value, scope, depth) for a in expr.args
                )
            # Other calls: a value built from the text (`dict(error=str(e))`).
            return any(
                not self._exception_expr(a.value, scope) and self.leaks(a.value, scope, depth + 1)
                for a in expr.args
            )
        if isinstance(expr, cst.FormattedString):
            return any(
                isinstance(part, cst.FormattedStringExpression)
                and self._text_part(part.expression, scope, depth)
                for part in expr.parts
            )
        if isinstance(expr, cst.BinaryOperation):
            if isinstance(expr.operator, cst.Modulo):
                right = expr.right
                parts = (
                    [el.value for el in right.elements] if isinstance(right, cst.Tuple) else [right]
                )
                return any(self._text_part(p, scope, depth) for p in parts)
            return self.leaks(expr.left, scope, depth + 1) or self.leaks(
                expr.right, scope, depth + 1
            )
        if isinstance(expr, cst.Dict):
            return any(
                isinstance(el, cst.DictElement) and (self._direct(el.value, scope, depth))
                for el in expr.elements
            )
        if isinstance(expr, cst.List | cst.Tuple | cst.Set):
            return any(self._direct(el.value, scope, depth) for el in expr.elements)
        if isinstance(expr, cst.Attribute):
            return expr.attr.value in _TEXT_ATTRIBUTES and self._exception_expr(expr.value, scope)
        if isinstance(expr, cst.Subscript):
            return self.leaks(expr.value, scope, depth + 1)
        if isinstance(expr, cst.IfExp):
            if mentions_debug(expr.test) or self._narrowed_to_client_text(expr.test, scope):
                # Details in DEBUG only; `str(e) if isinstance(e, ValueError) else "..."`.
                return self.leaks(expr.orelse, scope, depth + 1)
            return self.leaks(expr.body, scope, depth + 1) or self.leaks(
                expr.orelse, scope, depth + 1
            )
        return False

    def _item_leaks(self, expr: cst.Name, scope: Scope, depth: int) -> bool:
        """A local dict or list given the text item by item:
        `body["detail"] = str(e)` in the handler, `JsonResponse(body)` later."""
        function = scope.function()
        if function is None:
            return False
        key = (f"[]{expr.value}", id(function))
        if key in self._active:
            return False
        values = _item_assignments(self.ctx, function, expr.value)
        if not values:
            return False
        self._active.add(key)
        try:
            return any(self._direct(v, scope, depth + 1) for v in values)
        finally:
            self._active.discard(key)

    def _narrowed_to_client_text(self, test: cst.BaseExpression, scope: Scope) -> bool:
        """`isinstance(e, (ValueError, AppError))`: only exceptions meant for clients."""
        return (
            isinstance(test, cst.Call)
            and self.ctx.qualified_name(test.func, scope) == "builtins.isinstance"
            and len(test.args) == 2
            and not types_are_leaky(self.ctx, test.args[1].value, scope)
        )

    def _direct(self, expr: cst.BaseExpression, scope: Scope, depth: int) -> bool:
        """An item of a response body: the exception object itself counts."""
        return self._exception_expr(expr, scope) or self.leaks(expr, scope, depth + 1)

    def _text_part(self, expr: cst.BaseExpression, scope: Scope, depth: int) -> bool:
        """A value formatted into text: the exception object itself counts."""
        return self._exception_expr(expr, scope) or self.leaks(expr, scope, depth + 1)

    def _exception_expr(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        return isinstance(expr, cst.Name) and self._exception(expr, scope)

    def _exception(self, name: cst.Name, scope: Scope) -> bool:
        node = name if self.ctx.parent(name) is not None else self.anchor
        handler = except_handler(self.ctx, name.value, scope, node)
        return (
            handler is not None
            and exception_is_leaky(self.ctx, handler, scope)
            and not self._narrowed_around(node, name.value, scope)
        )

    def _narrowed_around(self, node: cst.CSTNode | None, name: str, scope: Scope) -> bool:
        """Inside `if isinstance(e, AppError):` (the exception is one meant for
        clients there), up to the `except` clause."""
        if node is None:
            return False
        child = node
        for parent in self.ctx.ancestors(node):
            if isinstance(parent, cst.ExceptHandler | cst.FunctionDef):
                return False
            if (
                isinstance(parent, cst.If)
                and child is parent.body
                and self._narrowed_to_client_text(parent.test, scope)
            ):
                test = parent.test
                assert isinstance(test, cst.Call)
                first = test.args[0].value
                if isinstance(first, cst.Name) and first.value == name:
                    return True
            child = parent
        return False


def _item_assignments(ctx: FileContext, function: Scope, name: str) -> list[cst.BaseExpression]:
    """The values a function puts into its local `name` item by item:
    `name[key] = value`, `name.append(value)` (nested functions not read)."""
    key = ("errors.items", id(function.node))
    if key not in ctx.cache:
        found: dict[str, list[cst.BaseExpression]] = {}
        body = getattr(function.node, "body", None)
        if isinstance(body, cst.BaseSuite):
            prune = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
            for node in descendants(body, prune=prune, parents=ctx.parents):
                if isinstance(node, cst.Assign):
                    for target in node.targets:
                        t = target.target
                        if isinstance(t, cst.Subscript) and isinstance(t.value, cst.Name):
                            found.setdefault(t.value.value, []).append(node.value)
                elif (
                    isinstance(node, cst.Call)
                    and isinstance(node.func, cst.Attribute)
                    and node.func.attr.value == "append"
                    and isinstance(node.func.value, cst.Name)
                    and len(node.args) == 1
                ):
                    found.setdefault(node.func.value.value, []).append(node.args[0].value)
        ctx.cache[key] = found
    items: dict[str, list[cst.BaseExpression]] = ctx.cache[key]
    return items.get(name, [])


# Words of a setting that turns on details for developers.
DEBUG_WORDS = frozenset({"debug", "stacktrace", "stacktraces", "traceback", "tracebacks"})


def mentions_debug(expr: cst.BaseExpression) -> bool:
    """A condition on debug mode: `settings.DEBUG`, `app.debug`, `DEBUG`, or
    a setting named so (`conf.get("api", "expose_stacktrace") == "True"`,
    `settings.SHOW_TRACEBACKS`)."""
    for node in (expr, *descendants(expr)):
        if isinstance(node, cst.Name):
            text = node.value
        elif isinstance(node, cst.Attribute):
            text = node.attr.value
        elif isinstance(node, cst.SimpleString):
            value = node.evaluated_value
            text = value if isinstance(value, str) and len(value) < 60 else ""
        else:
            continue
        if set(name_words(text)) & DEBUG_WORDS:
            return True
    return False


def in_debug_branch(ctx: FileContext, node: cst.CSTNode) -> bool:
    """Inside the body of `if settings.DEBUG:` (details for developers only)."""
    child = node
    for parent in ctx.ancestors(node):
        if isinstance(parent, cst.If) and child is parent.body and mentions_debug(parent.test):
            return True
        if isinstance(parent, cst.FunctionDef):
            return False
        child = parent
    return False
