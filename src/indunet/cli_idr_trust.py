"""Signed identifier data from the command line (see :mod:`indunet.idr.signed`):

- ``indunet idr certify PREFIX --issuer PARENT --signing-key PARENT.pem --subject-key CHILD.pem
  --server PARENT-NODE --admin ... --secret ...`` writes the HS_CERT of ``0.NA/PREFIX`` at the parent
  node (the top-level prefix certifies itself: ``--issuer`` equal to ``PREFIX``);
- ``indunet idr sign HANDLE --signer PREFIX --signing-key PREFIX.pem --server NODE --admin ...``
  signs the identifier's public values (HS_SIGNATURE);
- ``indunet resolve HANDLE --verify --anchor BID`` checks the signature up to the pinned top-level key
  and exits 1 when it does not hold.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from indunet.core.config import Settings
from indunet.core.errors import InvalidInput
from indunet.core.i18n import cli_language, translate

ANCHOR_ENV = "INDUNET_IDR_ANCHOR"
DAY_MS = 86_400_000


def _t(key: str, **params: Any) -> str:
    return translate(key, cli_language(), **params)


def signing_key(path: str) -> Any:
    from indunet.security.crypto import keys

    try:
        return keys.load_private_key(Path(path).read_bytes())
    except (OSError, keys.UnsupportedKey) as exc:
        raise InvalidInput(_t("cli.idr_bad_key", path=path, error=str(exc)), key="cli.idr_bad_key") from None


def _any_public_key(path: str) -> Any:
    from indunet.security.crypto import keys

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(_t("cli.idr_bad_key", path=path, error=str(exc)), key="cli.idr_bad_key") from None
    try:
        return keys.load_public_key(data)
    except keys.UnsupportedKey:
        return signing_key(path).public_key()


async def _put(host: str, port: int, handle: str, value: Any, admin: Any, proof: dict[str, Any]) -> None:
    """Add ``value`` to the record, or replace the value at its index."""
    from indunet.idr import client
    from indunet.idr.wire import AddValueRequest, ModifyValueRequest, ResponseCode

    try:
        await client.administer(host, port, AddValueRequest(handle, (value,)), admin, **proof)
    except client.ClientError as exc:
        if exc.code != ResponseCode.RC_VALUE_ALREADY_EXIST:
            raise
        await client.administer(host, port, ModifyValueRequest(handle, (value,)), admin, **proof)


def cmd_idr_certify(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.cli_idr import _proof, _server
    from indunet.idr import client
    from indunet.idr.model import InvalidHandle, check_prefix
    from indunet.idr.records import parse_admin_id
    from indunet.idr.signed import certify
    from indunet.ledger.did import bid_of

    try:
        prefix, issuer = check_prefix(args.prefix), check_prefix(args.issuer)
    except InvalidHandle as exc:
        raise InvalidInput(str(exc), key="cli.idr_bad_prefix", error=str(exc)) from None
    if args.days <= 0:
        raise InvalidInput(_t("cli.idr_bad_days"), key="cli.idr_bad_days")
    host, port = _server(args.server)
    subject_key = _any_public_key(args.subject_key)
    value = certify(
        signing_key(args.signing_key),
        issuer,
        prefix,
        subject_key,
        int(time.time() * 1000) + args.days * DAY_MS,
    )
    try:
        asyncio.run(_put(host, port, f"0.NA/{prefix}", value, parse_admin_id(args.admin), _proof(args)))
    except client.ClientError as exc:
        print(f"indunet: {_t('cli.idr_failed', handle=f'0.NA/{prefix}', error=str(exc))}", file=sys.stderr)
        return 1
    print(_t("cli.idr_certified", prefix=prefix, issuer=issuer, bid=bid_of(subject_key)))
    return 0


def cmd_idr_sign(args: argparse.Namespace, _settings: Settings) -> int:
    from indunet.cli_idr import _proof, _server
    from indunet.idr import client
    from indunet.idr.records import parse_admin_id
    from indunet.idr.signed import HS_SIGNATURE, sign_record

    host, port = _server(args.server)
    key = signing_key(args.signing_key)
    admin, proof = parse_admin_id(args.admin), _proof(args)

    async def sign() -> None:
        # What anyone resolving it sees is what gets signed: the public values.
        shown = [v for v in await client.resolve(host, port, args.handle) if v.type != HS_SIGNATURE]
        value = sign_record(key, args.signer, args.handle, shown, int(time.time() * 1000))
        await _put(host, port, args.handle, value, admin, proof)

    try:
        asyncio.run(sign())
    except client.ClientError as exc:
        print(f"indunet: {_t('cli.idr_failed', handle=args.handle, error=str(exc))}", file=sys.stderr)
        return 1
    print(_t("cli.idr_signed", handle=args.handle, signer=args.signer))
    return 0


def verify_resolved(
    host: str, port: int, handle: str, values: Sequence[Any], anchor: str | None, tcp: bool
) -> Any:
    """The verdict on ``values`` of ``handle``, with the certificate chain resolved through the same
    server; NotTrusted when it does not hold."""
    import os

    from indunet.idr import client
    from indunet.idr.signed import chain_prefixes, verify_record

    pinned = anchor or os.environ.get(ANCHOR_ENV) or None
    fetched: dict[str, Any] = {}
    for prefix in chain_prefixes(handle):
        name = f"0.NA/{prefix}"
        try:
            fetched[name] = asyncio.run(client.resolve(host, port, name, tcp=tcp))
        except client.ClientError:
            fetched[name] = None
    return verify_record(handle, values, fetched.get, pinned, int(time.time() * 1000))


def register(idr: Any, add: Any) -> None:
    certify = add("certify", cmd_idr_certify, "cli.help.idr_certify", idr)
    certify.add_argument("prefix")
    certify.add_argument("--issuer", required=True, metavar="PREFIX", help=_t("cli.help.idr_issuer"))
    certify.add_argument("--signing-key", required=True, metavar="FILE", help=_t("cli.help.idr_signing_key"))
    certify.add_argument("--subject-key", required=True, metavar="FILE", help=_t("cli.help.idr_subject_key"))
    certify.add_argument("--days", type=int, default=365)
    sign = add("sign", cmd_idr_sign, "cli.help.idr_sign", idr)
    sign.add_argument("handle")
    sign.add_argument("--signer", required=True, metavar="PREFIX", help=_t("cli.help.idr_signer"))
    sign.add_argument("--signing-key", required=True, metavar="FILE", help=_t("cli.help.idr_signing_key"))
    for command in (certify, sign):
        command.add_argument("--server", required=True, metavar="HOST:PORT")
        command.add_argument("--admin", required=True, metavar="INDEX:HANDLE")
        command.add_argument(
            "--admin-secret", "--secret", dest="admin_secret", help=_t("cli.help.idr_admin_secret")
        )
        command.add_argument("--key", metavar="FILE", help=_t("cli.help.idr_key"))
