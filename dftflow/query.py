"""Queries on the results database: a small filter language and MongoDB-style JSON, both to MongoDB criteria.

    dftflow results --filter "defect~V_O charge=2 gap<2.5 executor=mock"
    dftflow results --query '{"charge": {"$in": [1, 2]}, "functional.aexx": 0.28}'

A filter is terms separated by spaces or commas: FIELD OP VALUE with OP one of = != < <= > >= and ~
(regular expression, case-insensitive). FIELD is any stored field (dotted: output.bandgap, input.incar.ENCUT)
or a short name (ALIASES: gap, energy, defect, functional, label, ...). VALUE is a number, true/false/null,
or text (quote it with ' or " to keep spaces). The criteria are plain MongoDB operators ($eq, $ne, $lt,
$lte, $gt, $gte, $regex), so a query means the same on the embedded store (mongomock) and on a MongoDB
server.
"""

from __future__ import annotations

import json
import re
import shlex

from dftflow.errors import InputError

ALIASES = {
    "label": "task_label",
    "gap": "output.bandgap",
    "energy": "output.energy",
    "efermi": "output.efermi",
    "vbm": "output.vbm",
    "cbm": "output.cbm",
    "defect": "defect.descriptor",
    "functional": "functional.label",
    "aexx": "functional.aexx",
    "hfscreen": "functional.hfscreen",
    "gga": "functional.base_gga",
    "composition": "composition_label",
    "formula": "formula_pretty",
    "encut": "input.encut",
    "nelect": "input.nelect",
}
OPERATORS = {"!=": "$ne", "<=": "$lte", ">=": "$gte", "<": "$lt", ">": "$gt", "=": "$eq", "~": "$regex"}
TERM = re.compile(r"^(?P<field>[A-Za-z_][\w.]*)\s*(?P<op>!=|<=|>=|<|>|=|~)\s*(?P<value>.*)$")
FIELD = re.compile(r"^[A-Za-z_][\w.]*$")


def field_name(name: str) -> str:
    """The stored field a user's name stands for."""
    if not FIELD.match(name):
        raise InputError(f"not a field name: {name!r} (letters, digits, _ and dots)")
    return ALIASES.get(name, name)


def _value(text: str):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "none"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_filter(text: str) -> dict:
    """MongoDB criteria of a filter expression (see the module docstring)."""
    criteria: dict = {}
    try:
        terms = shlex.split(text.replace(",", " "))
    except ValueError as exc:
        raise InputError(f"cannot read the filter {text!r}: {exc}") from None
    for term in terms:
        match = TERM.match(term)
        if not match:
            raise InputError(f"cannot read the filter term {term!r}: use FIELD=VALUE, FIELD<VALUE, FIELD~REGEX ...")
        field, op, raw = field_name(match["field"]), match["op"], match["value"]
        if raw == "":
            raise InputError(f"the filter term {term!r} has no value")
        value = _value(raw)
        if op == "~":
            try:
                re.compile(str(value))
            except re.error as exc:
                raise InputError(f"{term!r}: not a regular expression ({exc})") from None
            condition = {"$regex": str(value), "$options": "i"}
        elif op in ("<", "<=", ">", ">=") and not isinstance(value, int | float):
            raise InputError(f"{term!r}: {op} needs a number")
        else:
            condition = {OPERATORS[op]: value}
        criteria.setdefault(field, {}).update(condition)
    return criteria


def parse_query(text: str) -> dict:
    """MongoDB criteria given as JSON (an object)."""
    try:
        criteria = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"--query is not JSON: {exc.msg} at character {exc.pos}") from None
    if not isinstance(criteria, dict):
        raise InputError("--query must be a JSON object, e.g. '{\"charge\": 2}'")
    return criteria


def parse_sort(text: str | None) -> list[tuple[str, int]]:
    """'-output.energy,task_label' -> [("output.energy", -1), ("task_label", 1)]."""
    if not text:
        return [("study", 1), ("completed_at", 1)]
    keys = []
    for part in text.split(","):
        part = part.strip()
        if part:
            keys.append((field_name(part.lstrip("-+")), -1 if part.startswith("-") else 1))
    return keys


def parse_fields(text: str | None) -> list[str] | None:
    return [field_name(f.strip()) for f in text.split(",") if f.strip()] if text else None


def pick(doc: dict, field: str):
    """A dotted field of a document (None where it is missing)."""
    value = doc
    for part in field.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
