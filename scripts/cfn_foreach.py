"""Expands `Fn::ForEach` (the AWS::LanguageExtensions transform) in a
template's Resources, as CloudFormation does before it deploys them, so
that the project's own readers of template.yaml (scripts/check_template.py,
scripts/test_deploy_wiring.py) see the resources the stack will have.
Standard library only.

What template.yaml uses, and so what this handles:

  Fn::ForEach::LoopName:
    - Identifier
    - [Value1, Value2, ...]          # a literal list of strings
    - ${Identifier}Suffix:           # or &{Identifier}: the value's
        ...                          #   alphanumerics only
      Fn::ForEach::Inner: [...]      # nested loops

In the bodies, `Ref: Identifier` becomes the value, and `${Identifier}`
is replaced in the strings of `Fn::Sub` (so `!Sub "${${Identifier}Function}"`
refers to the resource `<Value>Function`). Loaders name the short tags
differently (cfn-lint's `!Sub` is `Fn::Sub`, a plain PyYAML multi-
constructor may give `Sub`): both are handled. A collection that is not a
literal list (a `!Ref` to a CommaDelimitedList parameter) is refused
rather than guessed.
"""
from __future__ import annotations

import re

PREFIX = "Fn::ForEach::"
SUB_KEYS = ("Fn::Sub", "Sub")


class ForEachError(ValueError):
    pass


def is_foreach(key) -> bool:
    return isinstance(key, str) and key.startswith(PREFIX)


def _replace_in_text(text: str, ident: str, value: str) -> str:
    return text.replace("${%s}" % ident, value)


def _replace_in_key(key: str, ident: str, value: str) -> str:
    return (key.replace("${%s}" % ident, value)
               .replace("&{%s}" % ident, re.sub(r"[^A-Za-z0-9]", "", value)))


def _substitute(node, ident: str, value: str):
    """A deep copy of `node` with the loop identifier replaced."""
    if isinstance(node, dict):
        if len(node) == 1:
            (k, v), = node.items()
            if k == "Ref" and v == ident:
                return value
            if k in SUB_KEYS:
                if isinstance(v, str):
                    return {k: _replace_in_text(v, ident, value)}
                if isinstance(v, list) and v and isinstance(v[0], str):
                    return {k: [_replace_in_text(v[0], ident, value)]
                            + [_substitute(x, ident, value) for x in v[1:]]}
        # Keys too: a nested loop's output keys may name the outer identifier.
        return {(_replace_in_key(k, ident, value) if isinstance(k, str) else k): _substitute(v, ident, value)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(x, ident, value) for x in node]
    return node


def expand(section: dict) -> dict:
    """`section` (e.g. Resources) with every Fn::ForEach entry replaced by
    the entries it makes, in order. Raises ForEachError on a malformed loop
    or a logical id made twice."""
    out: dict = {}

    def add(key, value):
        if key in out:
            raise ForEachError(f"{key} is defined twice (a Fn::ForEach makes an existing id)")
        out[key] = value

    for key, value in section.items():
        if not is_foreach(key):
            add(str(key), value)
            continue
        if not (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)
                and isinstance(value[2], dict)):
            raise ForEachError(f"{key}: expected [Identifier, [values...], {{OutputKey: body}}]")
        ident, collection, template = value
        if not (isinstance(collection, list) and all(isinstance(v, str) for v in collection)):
            raise ForEachError(f"{key}: only a literal list of strings is expanded here, got {collection!r}")
        for item in collection:
            made = {}
            for out_key, body in template.items():
                made[_replace_in_key(str(out_key), ident, item)] = _substitute(body, ident, item)
            for k, v in expand(made).items():
                add(k, v)
    return out
