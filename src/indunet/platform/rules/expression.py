"""A safe evaluator for rule expressions over a device's points, such as
``spindle_load > 90 and abs(spindle_temperature - 40) > 15``.

The text is parsed with ``ast`` and every node checked against a short allow-list: point names,
numeric and boolean constants, arithmetic (no power: ``9**9**9`` would stall the worker), comparison
and boolean operators, and calls of ``abs``, ``min`` and ``max``. The checked tree is then walked by a
small interpreter, built once as a tree of closures (one Python call per node, no dispatch on node
types per evaluation); nothing is ever compiled to bytecode or handed to ``eval``. Size limits bound
the work per sample.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from indunet.core.errors import InvalidInput

MAX_EXPRESSION_CHARS = 500
MAX_NODES = 100
FUNCTIONS: dict[str, Callable[..., Any]] = {"abs": abs, "min": min, "max": max}

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Not: operator.not_,
}


# Nodes that only carry structure; what they combine is checked on its own.
_STRUCTURAL = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.Load, ast.operator, ast.cmpop, ast.unaryop)


class Expression:
    """A checked expression; ``names`` are the points it reads."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tree, self.names = _check(text)
        self._run = _closure(self.tree)

    def evaluate(self, values: Mapping[str, float | bool]) -> bool | None:
        """True or false; ``None`` when a point has no value yet or the arithmetic is undefined."""
        try:
            result = self._run(values)
        except (KeyError, ZeroDivisionError, OverflowError, ValueError, TypeError):
            return None
        if isinstance(result, float) and not math.isfinite(result):
            return None
        return bool(result)


def _bad(text: str, why: str) -> InvalidInput:
    return InvalidInput(f"expression {text!r}: {why}", key="error.bad_expression", reason=why)


def _check(text: str) -> tuple[ast.expr, frozenset[str]]:
    if not isinstance(text, str) or not text.strip():
        raise _bad(str(text), "empty")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise _bad(text[:40] + "…", f"longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise _bad(text, f"syntax error: {exc.msg}") from None
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    names: set[str] = set()
    for count, node in enumerate(ast.walk(tree), start=1):
        if count > MAX_NODES:
            raise _bad(text, f"more than {MAX_NODES} terms")
        _check_node(text, node, called, names)
    return tree.body, frozenset(names)


def _check_node(text: str, node: ast.AST, called: set[int], names: set[str]) -> None:
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
            raise _bad(text, "only abs(), min() and max() may be called")
        if not node.args or (node.func.id == "abs" and len(node.args) != 1):
            raise _bad(text, f"wrong number of arguments to {node.func.id}()")
    elif isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            if id(node) not in called:
                raise _bad(text, f"{node.id} must be called")
        else:
            names.add(node.id)
    elif isinstance(node, ast.Constant):
        if not isinstance(node.value, bool | int | float):
            raise _bad(text, "only numbers and True/False are allowed as constants")
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise _bad(text, f"operator {type(node.op).__name__} is not allowed")
    elif isinstance(node, ast.Compare):
        if any(type(op) not in _COMPARE for op in node.ops):
            raise _bad(text, "only <, <=, >, >=, == and != compare")
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise _bad(text, f"operator {type(node.op).__name__} is not allowed")
    elif not isinstance(node, _STRUCTURAL):
        raise _bad(text, f"{type(node).__name__} is not allowed")


Values = Mapping[str, float | bool]
Node = Callable[[Values], Any]


def _finite(result: Any) -> Any:
    if isinstance(result, float) and not math.isfinite(result):
        raise OverflowError("not a finite number")
    return result


def _closure(node: ast.expr) -> Node:
    """The checked node as a function of the point values (``_check`` has allowed only these nodes)."""
    if isinstance(node, ast.Constant):
        constant = node.value
        return lambda _values: constant
    if isinstance(node, ast.Name):
        name = node.id
        return lambda values: values[name]
    if isinstance(node, ast.BinOp):
        binary, left, right = _BINARY[type(node.op)], _closure(node.left), _closure(node.right)
        return lambda values: _finite(binary(left(values), right(values)))
    if isinstance(node, ast.UnaryOp):
        unary, operand = _UNARY[type(node.op)], _closure(node.operand)
        return lambda values: unary(operand(values))
    if isinstance(node, ast.BoolOp):
        parts = [_closure(v) for v in node.values]
        if isinstance(node.op, ast.And):
            return lambda values: all(part(values) for part in parts)
        return lambda values: any(part(values) for part in parts)
    if isinstance(node, ast.Compare):
        first = _closure(node.left)
        chain = [
            (_COMPARE[type(op)], _closure(right))
            for op, right in zip(node.ops, node.comparators, strict=True)
        ]

        def compare(values: Values) -> bool:
            left = first(values)
            for op, right_node in chain:
                right = right_node(values)
                if not op(left, right):
                    return False
                left = right
            return True

        return compare
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        function, args = FUNCTIONS[node.func.id], [_closure(a) for a in node.args]
        return lambda values: function(*(arg(values) for arg in args))
    raise TypeError(type(node).__name__)  # unreachable after _check
