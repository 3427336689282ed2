"""Match patterns without their leading ``//``: an exact rewrite for the fused walk.

A match pattern ``//X[p]`` matches an ``X[p]`` node whose tree is rooted at a document node; ``X[p]``
matches it wherever it is. The fused walk applies rule templates only to nodes of the source document
(it starts at its document node and descends), so the two select the same nodes there, and the
explicit priority every rule template carries keeps the choice between rules unchanged. Saxon tests the
leading ``//`` by climbing to the root for every node it tries the rule on; without it a rule that does
not apply fails on its last step's name or predicate at once (e.g. Peppol R008 ``//*[not(*) and
not(normalize-space())]``, tried on every element).
"""

from __future__ import annotations

import re

from gateway.validation.fused.xpath_text import split_top_level

#: ``//`` then a name test, wildcard or attribute step (not ``///``, ``//(``, ``//.`` ...).
_ROOTED_STEP = re.compile(r"^//(?=[A-Za-z_*@])")


def without_root_descent(match: str) -> str:
    """``match`` with the leading ``//`` of each top-level union branch removed."""
    branches = split_top_level(match, "|")
    rewritten = [_ROOTED_STEP.sub("", branch.strip()) for branch in branches]
    if all(new == old.strip() for new, old in zip(rewritten, branches, strict=True)):
        return match
    return " | ".join(rewritten)
