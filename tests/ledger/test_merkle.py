"""RFC 9162 Merkle hashes and proofs: the Certificate Transparency test vector, then every proof for
random trees verified, and damaged proofs, wrong roots and wrong sizes refused."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from indunet.ledger import merkle
from indunet.ledger.merkle import HashAlgorithm

H = merkle.hasher(HashAlgorithm.SHA256)
FUZZ = settings(max_examples=200, deadline=None)

# The leaves of the Certificate Transparency reference implementations' Merkle tests.
CT_LEAVES = [
    bytes.fromhex(x)
    for x in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]


def _tree(leaves: list[bytes]) -> merkle.Subtree:
    return merkle.subtree_of(H, [merkle.leaf_hash(H, leaf) for leaf in leaves])


def test_the_certificate_transparency_tree_of_eight_leaves() -> None:
    assert merkle.root(H, _tree([]), 0) == hashlib.sha256(b"").digest()
    assert merkle.root(H, _tree(CT_LEAVES[:1]), 1).hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert merkle.root(H, _tree(CT_LEAVES), 8).hex() == (
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    )


@FUZZ
@given(st.integers(1, 70), st.data())
def test_every_inclusion_proof_verifies_and_damage_is_refused(size: int, data: st.DataObject) -> None:
    leaves = [i.to_bytes(4, "big") for i in range(size)]
    tree = _tree(leaves)
    top = merkle.root(H, tree, size)
    index = data.draw(st.integers(0, size - 1))
    proof = merkle.inclusion_proof(tree, index, size)
    leaf = merkle.leaf_hash(H, leaves[index])
    assert merkle.verify_inclusion(H, leaf, index, size, proof, top)
    assert not merkle.verify_inclusion(H, merkle.leaf_hash(H, b"forged"), index, size, proof, top)
    if size > 1:
        assert not merkle.verify_inclusion(H, leaf, (index + 1) % size, size, proof, top)
        at = data.draw(st.integers(0, len(proof) - 1))
        damaged = [*proof[:at], bytes(32), *proof[at + 1 :]]
        assert not merkle.verify_inclusion(H, leaf, index, size, damaged, top)
        assert not merkle.verify_inclusion(H, leaf, index, size, proof[:-1], top)
        assert not merkle.verify_inclusion(H, leaf, index, size, [*proof, bytes(32)], top)


@FUZZ
@given(st.integers(1, 70), st.data())
def test_every_consistency_proof_verifies_and_a_rewritten_history_is_caught(
    size: int, data: st.DataObject
) -> None:
    new = data.draw(st.integers(size, size + 40))
    leaves = [i.to_bytes(4, "big") for i in range(new)]
    tree = _tree(leaves)
    old_root, new_root = merkle.root(H, tree, size), merkle.root(H, tree, new)
    proof = merkle.consistency_proof(tree, size, new)
    assert merkle.verify_consistency(H, size, new, old_root, new_root, proof)
    # A log that changed one old entry gives a root the old one cannot be proven against.
    edited = list(leaves)
    edited[data.draw(st.integers(0, size - 1))] = b"edited"
    forged_tree = _tree(edited)
    assert not merkle.verify_consistency(
        H,
        size,
        new,
        old_root,
        merkle.root(H, forged_tree, new),
        merkle.consistency_proof(forged_tree, size, new),
    )
    if new > size:
        assert not merkle.verify_consistency(H, size, new, old_root, new_root, proof[:-1])
        assert not merkle.verify_consistency(H, size, new, old_root, bytes(32), proof)
