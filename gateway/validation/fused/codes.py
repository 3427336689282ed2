"""Exact rewrites of code-list tests of the official stylesheets: map lookups instead of scans.

* Code lists. The skeleton tests membership as ``contains(' AED AFN ... ', concat(' ', X, ' '))``: a
  string search in a literal of up to several kilobytes, once per amount or quantity. When X holds
  no blank, that is true exactly when X is one of the literal's blank-separated tokens, so the
  rewrite looks X up in a map built once, when the stylesheet compiles (``CodeLists``); X with a
  blank takes the original search. Only literals made of single-blank-separated tokens between a
  leading and a trailing blank are rewritten (any other literal keeps its original test).

* Token-list variables. The Peppol stylesheet tests ``some $code in $ISO4217 satisfies @currencyID =
  $code`` where ``$ISO4217`` is a global ``tokenize('AED AFN ...', '\\s')``, tokenized again in every
  run and scanned linearly. With a left side that atomizes to strings (an attribute, or a
  ``normalize-space(...)``), that is ``some $code in (left) satisfies map:contains(set, string($code))``
  with the set built at compile time from the same ``tokenize`` (``TokenSets``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from gateway.validation.fused.skeleton import xsl
from gateway.validation.fused.xpath_text import argument_end

MAP_NAMESPACE = "http://www.w3.org/2005/xpath-functions/map"
_SEARCH = re.compile(r"contains\(\s*'( [^']*? )'\s*,\s*concat\(\s*' '\s*,\s*")
_TOKEN_LIST = re.compile(r"^ (?:[^ ']+ )+$")


@dataclass
class CodeLists:
    """The code-list literals met so far, each a global map variable of the fused stylesheet."""

    names: dict[str, str] = field(default_factory=dict)

    def variable(self, literal: str) -> str:
        if literal not in self.names:
            self.names[literal] = f"fused-codes-{len(self.names) + 1}"
        return self.names[literal]

    def declarations(self) -> list[etree._Element]:
        """One ``xsl:variable`` per literal: a map from each token to true()."""
        found = []
        for literal, name in self.names.items():
            node = etree.Element(xsl("variable"), nsmap={"map": MAP_NAMESPACE})
            node.set("name", name)
            node.set("static", "yes")  # built once when the stylesheet compiles, not once per run
            tokens = f"tokenize(normalize-space('{literal}'), ' ')"
            node.set("select", f"map:merge(for $t in {tokens} return map:entry($t, true()))")
            found.append(node)
        return found

    def rewrite(self, test: str) -> str:
        """``test`` with every code-list search replaced by a map lookup (unchanged if none)."""
        out, position = [], 0
        for found in _SEARCH.finditer(test):
            if found.start() < position:
                continue
            literal = found.group(1)
            value_end = argument_end(test, found.end())
            if not _TOKEN_LIST.match(literal) or value_end < 0:
                continue
            tail = re.compile(r"\s*' '\s*\)\s*\)").match(test, value_end + 1)
            if tail is None:
                continue
            value = test[found.end() : value_end]
            name = self.variable(literal)
            out.append(test[position : found.start()])
            out.append(
                f"(let $fused-value := ({value}) return if (contains($fused-value, ' '))"
                f" then contains('{literal}', concat(' ', $fused-value, ' '))"
                f" else map:contains(${name}, string($fused-value)))"
            )
            position = tail.end()
        return "".join(out) + test[position:] if out else test


_SOME = re.compile(
    r"^\s*some\s+\$([\w\-]+)\s+in\s+\$([\w\-]+)\s+satisfies\s+(@[\w\-]+|normalize-space\((?:text\(\)|\.)?\))"
    r"\s*=\s*\$\1\s*$"
)
_TOKENIZE = re.compile(r"^\s*tokenize\(\s*'([^']*)'\s*,\s*'\\s'\s*\)\s*$")


@dataclass
class TokenSets:
    """Global ``tokenize('literal', '\\s')`` variables, and the compile-time sets made of them."""

    lists: dict[str, str]
    used: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, declarations: tuple[etree._Element, ...]) -> TokenSets:
        """Collect the token-list variables among the stylesheet's top-level declarations."""
        lists = {}
        for node in declarations:
            found = _TOKENIZE.match(node.get("select", "")) if node.tag == xsl("variable") else None
            if found is not None and len(node) == 0 and not (node.text or "").strip():
                lists[node.get("name", "")] = found.group(1)
        return cls(lists)

    def rewrite(self, test: str) -> str:
        """``test`` as a set lookup when it is a whole ``some ... satisfies X = $v`` over a token list."""
        found = _SOME.match(test)
        if found is None or found.group(2) not in self.lists:
            return test
        variable, name, left = found.groups()
        set_name = self.used.setdefault(name, f"fused-set-{name}")
        return f"some ${variable} in ({left}) satisfies map:contains(${set_name}, string(${variable}))"

    def declarations(self) -> list[etree._Element]:
        """One static map variable per token list a rewritten test uses."""
        found = []
        for name, set_name in self.used.items():
            node = etree.Element(xsl("variable"), nsmap={"map": MAP_NAMESPACE})
            node.set("name", set_name)
            node.set("static", "yes")
            tokens = f"tokenize('{self.lists[name]}', '\\s')"
            entries = f"for $t in {tokens} return map:entry($t, true())"
            node.set("select", f"map:merge({entries}, map{{'duplicates': 'use-first'}})")
            found.append(node)
        return found
