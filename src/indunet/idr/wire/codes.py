"""Numbers the Handle System protocol v2.1 (RFC 3652) gives names: opcodes, response codes, flags."""

from __future__ import annotations

from enum import IntEnum, IntFlag
from typing import Final

PROTOCOL_MAJOR: Final = 2
PROTOCOL_MINOR: Final = 1
DEFAULT_PORT: Final = 2641
"""The IANA port of hdl-srv, for both UDP and TCP."""


class OpCode(IntEnum):
    """RFC 3652, 2.2.2.1; 300-302 are later Handle.Net additions, kept so they decode by name."""

    OC_RESERVED = 0
    OC_RESOLUTION = 1
    OC_GET_SITEINFO = 2
    OC_CREATE_HANDLE = 100
    OC_DELETE_HANDLE = 101
    OC_ADD_VALUE = 102
    OC_REMOVE_VALUE = 103
    OC_MODIFY_VALUE = 104
    OC_LIST_HANDLE = 105
    OC_LIST_NA = 106
    OC_CHALLENGE_RESPONSE = 200
    OC_VERIFY_RESPONSE = 201
    OC_HOME_NA = 300
    OC_UNHOME_NA = 301
    OC_LIST_HOMED_NAS = 302
    OC_SESSION_SETUP = 400
    OC_SESSION_TERMINATE = 401
    OC_SESSION_EXCHANGEKEY = 402


class ResponseCode(IntEnum):
    """RFC 3652, 2.2.2.2. RC_RESERVED (0) marks a request."""

    RC_RESERVED = 0
    RC_SUCCESS = 1
    RC_ERROR = 2
    RC_SERVER_BUSY = 3
    RC_PROTOCOL_ERROR = 4
    RC_OPERATION_DENIED = 5
    RC_RECUR_LIMIT_EXCEEDED = 6
    RC_SERVER_BACKUP = 7
    """Later addition (server is a read-only backup); not in RFC 3652."""
    RC_HANDLE_NOT_FOUND = 100
    RC_HANDLE_ALREADY_EXIST = 101
    RC_INVALID_HANDLE = 102
    RC_VALUE_NOT_FOUND = 200
    RC_VALUE_ALREADY_EXIST = 201
    RC_VALUE_INVALID = 202
    RC_EXPIRED_SITE_INFO = 300
    RC_SERVER_NOT_RESP = 301
    RC_SERVICE_REFERRAL = 302
    RC_NA_DELEGATE = 303
    RC_NOT_AUTHORIZED = 400
    RC_ACCESS_DENIED = 401
    RC_AUTHEN_NEEDED = 402
    RC_AUTHEN_FAILED = 403
    RC_INVALID_CREDENTIAL = 404
    RC_AUTHEN_TIMEOUT = 405
    RC_UNABLE_TO_AUTHEN = 406
    RC_SESSION_TIMEOUT = 500
    RC_SESSION_FAILED = 501
    RC_NO_SESSION_KEY = 502
    RC_SESSION_NO_SUPPORT = 503
    RC_SESSION_KEY_INVALID = 504
    RC_SESSION_MESSAGE_REJECTED = 505
    """Later addition; not in RFC 3652."""
    RC_TRYING = 900
    RC_FORWARDED = 901
    RC_QUEUED = 902


class EnvelopeFlag(IntFlag):
    """MessageFlag of the envelope (RFC 3652, 2.2.1.2): the three most significant of 16 bits."""

    CP = 0x8000
    """Compressed."""
    EC = 0x4000
    """Encrypted with the session key."""
    TC = 0x2000
    """Truncated: one UDP fragment of a larger message."""


class OpFlag(IntFlag):
    """OpFlag of the message header (RFC 3652, 2.2.2.3), most significant bit first.

    OVRW, MINT and DNRF are later Handle.Net additions in the next bits; RFC 3652 reserves them.
    """

    AT = 0x8000_0000
    """Authoritative: ask (or answer from) a primary site."""
    CT = 0x4000_0000
    """Certified: the response must be (is) signed."""
    ENC = 0x2000_0000
    """The response must be encrypted with the session key."""
    REC = 0x1000_0000
    """Recursive: the server may forward the request."""
    CA = 0x0800_0000
    """Cache authentication."""
    CN = 0x0400_0000
    """Continuous: more messages of this request or response follow."""
    KC = 0x0200_0000
    """Keep the TCP connection open."""
    PO = 0x0100_0000
    """Public only: return only publicly readable values."""
    RD = 0x0080_0000
    """Request digest: the response body starts with a digest of the request."""
    OVRW = 0x0040_0000
    """Overwrite when the handle or value exists (later addition)."""
    MINT = 0x0020_0000
    """Mint a new suffix (later addition)."""
    DNRF = 0x0010_0000
    """Do not refer (later addition)."""


NO_ENVELOPE_FLAGS: Final = EnvelopeFlag(0)
NO_OP_FLAGS: Final = OpFlag(0)


class DigestAlgorithm(IntEnum):
    """Algorithm octet of a RequestDigest (RFC 3652, 2.2.3); SHA-256 is a later addition."""

    MD5 = 1
    SHA1 = 2
    SHA256 = 3

    @property
    def size(self) -> int:
        return {DigestAlgorithm.MD5: 16, DigestAlgorithm.SHA1: 20, DigestAlgorithm.SHA256: 32}[self]

    @property
    def hashlib_name(self) -> str:
        return {DigestAlgorithm.MD5: "md5", DigestAlgorithm.SHA1: "sha1", DigestAlgorithm.SHA256: "sha256"}[
            self
        ]
