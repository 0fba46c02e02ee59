"""JSONata for moto's Step Functions interpreter.

moto 5.2 parses JSONata states (``QueryLanguage: JSONata``, ``{% ... %}`` expressions) and
binds ``$states`` the way Step Functions does, but it ships without an evaluator: the hook it
would call is left unset, so any JSONata state fails. ``install_jsonata`` sets that hook to
jsonata-python, a JSONata 2.0 implementation, so the tracker's JSONata state really runs in
tests and in the demo (docs/architecture.md, "How the tracker is tested").
"""

from __future__ import annotations

from typing import Any

import jsonata
import moto.stepfunctions.parser.asl.jsonata.jsonata as moto_jsonata


def _evaluate(expression: str) -> Any:
    # moto hands over one self-contained expression: its variable bindings ($states...)
    # are declared inside it, so there is no input document.
    return jsonata.Jsonata(expression).evaluate(None)


def install_jsonata() -> None:
    """Make moto evaluate JSONata expressions (idempotent)."""
    moto_jsonata._eval_jsonata = _evaluate
