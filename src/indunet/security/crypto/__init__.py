"""Commercial (SM2/SM3/SM4) and international cryptography behind one interface.

- :mod:`.sm3`: the SM3 hash and HMAC-SM3.
- :mod:`.sm4`: SM4-GCM (authenticated) and SM4-CBC.
- :mod:`.keys`: signing keys of SM2, Ed25519 and ECDSA P-256 with one interface, so that the algorithm
  is configuration; generation, PEM and DER import and export.
- :mod:`.sm2`: SM2 beyond signatures: public-key encryption and key exchange (GB/T 32918.3 and .4).

Everything here is a pure function over bytes or an immutable key object.
"""
