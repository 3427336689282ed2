"""Fused evaluation of an official compiled Schematron: all its patterns in one walk of the tree.

``fuse_stylesheet`` reads an official CEN / Peppol compiled XSLT (ISO skeleton shape, ``skeleton``)
and writes one stylesheet that gives the same findings in one pass (``writer``; several layers in
one stylesheet: ``layers``), as a compact report instead of SVRL (``gateway.validation.compact``),
choosing per node only the patterns that can fire there (``dispatch``). The result is cached per
artefact checksum by ``gateway.validation.compiled``.
"""

from gateway.validation.fused.combine import CombineError
from gateway.validation.fused.layers import ONLY_PARAMETER, write_fused_layers
from gateway.validation.fused.skeleton import SkeletonError, read_skeleton
from gateway.validation.fused.writer import write_fused

#: Bump when the generated stylesheet changes in a way the source hash of this package would miss.
FUSER_VERSION = 25


def fuse_stylesheet(official: bytes) -> bytes:
    """Return the fused stylesheet of an official compiled Schematron.

    Raises:
        SkeletonError: the stylesheet is not in the ISO skeleton shape.
    """
    return write_fused(read_skeleton(official))


def fuse_stylesheets(officials: list[bytes], names: list[str]) -> bytes:
    """Return ONE fused stylesheet for several official compiled Schematrons (layers ``names``, in
    order): their patterns in one walk, each layer's compact report in turn
    (``layers.write_fused_layers``; ``ONLY_PARAMETER`` runs one layer alone).

    Raises:
        CombineError: the stylesheets cannot share one module.
        SkeletonError: a stylesheet is not in the ISO skeleton shape.
    """
    return write_fused_layers([read_skeleton(official) for official in officials], names)


__all__ = [
    "FUSER_VERSION",
    "ONLY_PARAMETER",
    "CombineError",
    "SkeletonError",
    "fuse_stylesheet",
    "fuse_stylesheets",
]
