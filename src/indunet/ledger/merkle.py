"""Merkle tree hashes and proofs of RFC 9162 (Certificate Transparency 2.0), section 2.1, as pure
functions: a leaf is hashed as ``H(0x00 || leaf)``, an interior node as ``H(0x01 || left || right)``,
the tree over ``n`` leaves splits at the largest power of two below ``n``.

Hashes of subtrees come from a ``subtree(start, end)`` callable, so the same proof code serves a
list in memory (:func:`subtree_of`) and a tree stored in a database (:mod:`indunet.ledger.store`).
Verification (2.1.3.2 and 2.1.4.2) needs nothing but the proof, the sizes and the roots.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from enum import StrEnum

from indunet.security.crypto.sm3 import sm3

Hasher = Callable[[bytes], bytes]
Subtree = Callable[[int, int], bytes]
"""The hash of the subtree over leaves ``[start, end)`` (a subtree as the tree splits)."""


class HashAlgorithm(StrEnum):
    SHA256 = "sha256"
    SM3 = "sm3"


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


_HASHES: dict[HashAlgorithm, Callable[[bytes], bytes]] = {
    HashAlgorithm.SHA256: _sha256,
    HashAlgorithm.SM3: sm3,
}


def hasher(algorithm: HashAlgorithm | str) -> Hasher:
    return _HASHES[HashAlgorithm(algorithm)]


def leaf_hash(h: Callable[[bytes], bytes], leaf: bytes) -> bytes:
    return h(b"\x00" + leaf)


def node_hash(h: Callable[[bytes], bytes], left: bytes, right: bytes) -> bytes:
    return h(b"\x01" + left + right)


def split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2): where a tree of n leaves splits."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_of(h: Callable[[bytes], bytes], leaf_hashes: Sequence[bytes]) -> Subtree:
    """``subtree`` over leaf hashes held in memory (the reference the stored tree is tested against)."""

    def subtree(start: int, end: int) -> bytes:
        if end - start == 1:
            return leaf_hashes[start]
        k = split(end - start)
        return node_hash(h, subtree(start, start + k), subtree(start + k, end))

    return subtree


def empty_root(h: Callable[[bytes], bytes]) -> bytes:
    return h(b"")


def root(h: Callable[[bytes], bytes], subtree: Subtree, size: int) -> bytes:
    return empty_root(h) if size == 0 else subtree(0, size)


# -- proofs (2.1.3.1, 2.1.4.1) ----------------------------------------------------------------------


def inclusion_proof(subtree: Subtree, index: int, size: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves, leaf side first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split(end - start)
        if index < start + k:
            path.append(subtree(start + k, end))
            end = start + k
        else:
            path.append(subtree(start, start + k))
            start += k
    path.reverse()
    return path


def consistency_proof(subtree: Subtree, old: int, new: int) -> list[bytes]:
    """The proof that the tree of ``old`` leaves is a prefix of the tree of ``new`` leaves."""
    if not 0 < old <= new:
        raise ValueError(f"no consistency proof from size {old} to {new}")
    if old == new:
        return []
    proof: list[bytes] = []
    start, end, whole = 0, new, True  # SUBPROOF(m, D[start:end], b)
    m = old
    while True:
        if m == end - start:
            if not whole:
                proof.append(subtree(start, end))
            break
        k = split(end - start)
        if m - 0 <= k:
            proof.append(subtree(start + k, end))
            end = start + k
        else:
            proof.append(subtree(start, start + k))
            start += k
            m -= k
            whole = False
    proof.reverse()
    return proof


# -- verification (2.1.3.2, 2.1.4.2) ------------------------------------------------------------------


def verify_inclusion(
    h: Callable[[bytes], bytes],
    leaf: bytes,
    index: int,
    size: int,
    proof: Sequence[bytes],
    expected_root: bytes,
) -> bool:
    """Whether ``leaf`` (a leaf hash) is at ``index`` in the tree of ``size`` whose root is given."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(h, p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(h, r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def verify_consistency(
    h: Callable[[bytes], bytes],
    old: int,
    new: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """Whether the tree of ``old`` leaves with ``old_root`` is a prefix of that of ``new`` with ``new_root``."""
    if old == new:
        return not proof and old_root == new_root
    if not 0 < old < new or not proof:
        return False
    path = list(proof)
    if old & (old - 1) == 0:  # a power of two: the old root is the proof's first node
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(h, c, fr)
            sr = node_hash(h, c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(h, sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


class CompactRange:
    """The complete subtrees' hashes of the leaves so far, largest first: O(log n) hashes give the
    root of a tree of any size and let it grow without the leaves before."""

    def __init__(self, h: Hasher, stack: Sequence[tuple[int, bytes]] = ()) -> None:
        self.h = h
        self._stack: list[tuple[int, bytes]] = list(stack)
        self.size = sum(width for width, _ in self._stack)

    @property
    def stack(self) -> list[tuple[int, bytes]]:
        """(width, hash) of each complete subtree, to keep and rebuild the range from."""
        return list(self._stack)

    def add(self, leaf: bytes) -> None:
        self._stack.append((1, leaf))
        self.size += 1
        while len(self._stack) >= 2 and self._stack[-1][0] == self._stack[-2][0]:
            (width, right), (_, left) = self._stack.pop(), self._stack.pop()
            self._stack.append((2 * width, node_hash(self.h, left, right)))

    def root(self) -> bytes:
        if not self._stack:
            return empty_root(self.h)
        result = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            result = node_hash(self.h, left, result)
        return result
