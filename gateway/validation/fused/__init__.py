"""Fused evaluation of an official compiled Schematron: all its patterns in one walk of the tree.

``fuse_stylesheet`` reads an official CEN / Peppol compiled XSLT (ISO skeleton shape, ``skeleton``)
and writes one stylesheet that gives the same findings in one pass (``writer``), as a compact report
instead of SVRL (``gateway.validation.compact``), choosing per
node only the patterns that can fire there (``dispatch``). The result is cached per artefact checksum
by ``gateway.validation.compiled``.
"""

from gateway.validation.fused.skeleton import SkeletonError, read_skeleton
from gateway.validation.fused.writer import write_fused

#: Bump when the generated stylesheet changes in a way the source hash of this package would miss.
FUSER_VERSION = 20


def fuse_stylesheet(official: bytes) -> bytes:
    """Return the fused stylesheet of an official compiled Schematron.

    Raises:
        SkeletonError: the stylesheet is not in the ISO skeleton shape.
    """
    return write_fused(read_skeleton(official))


__all__ = ["FUSER_VERSION", "SkeletonError", "fuse_stylesheet"]
