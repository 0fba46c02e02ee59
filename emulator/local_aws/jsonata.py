"""JSONata for moto's Step Functions interpreter, and its parser's query-language scopes.

moto 5.2 parses JSONata states (``QueryLanguage: JSONata``, ``{% ... %}`` expressions) and
binds ``$states`` the way Step Functions does, but it ships without an evaluator: the hook it
would call is left unset, so any JSONata state fails. ``install_jsonata`` sets that hook to
jsonata-python, a JSONata 2.0 implementation, so the tracker's JSONata state really runs in
tests and in the demo (docs/architecture.md, "How the tracker is tested").

It also mends moto's parser: the stack of query-language scopes it keeps while parsing a
definition is a class attribute, shared by every parse in the process and every thread (moto
parses again when an execution starts, in the execution's thread). A parse that raises leaves
its scopes behind, and two parses at once interleave them. With only JSONPath states that went
unnoticed; once a JSONata scope is left over, every later JSONPath definition is refused
("Unsupported declaration in QueryLanguage=JSONPath block"). Each parse gets its own stack here.
"""

from __future__ import annotations

from typing import Any

import jsonata
import moto.stepfunctions.parser.asl.jsonata.jsonata as moto_jsonata
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

_SCOPES = "_cfinv_query_language_scopes"


def _evaluate(expression: str) -> Any:
    # moto hands over one self-contained expression: its variable bindings ($states...)
    # are declared inside it, so there is no input document.
    return jsonata.Jsonata(expression).evaluate(None)


class _ScopesPerParse:
    """``Preprocessor._query_language_per_scope`` as one list per Preprocessor instance (moto
    makes one per parse) instead of one per process."""

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            return self
        scopes = instance.__dict__.get(_SCOPES)
        if scopes is None:
            scopes = instance.__dict__[_SCOPES] = []
        return scopes


def install_jsonata() -> None:
    """Make moto evaluate JSONata expressions and parse with per-parse scopes (idempotent)."""
    moto_jsonata._eval_jsonata = _evaluate
    Preprocessor._query_language_per_scope = _ScopesPerParse()  # type: ignore[assignment]
