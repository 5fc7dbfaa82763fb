"""The allocation ledger: an append-only Merkle-tree log (RFC 9162's structure) of identifier prefix
allocations, transfers and revocations, with signed tree heads, proofs, witnesses and audits."""
