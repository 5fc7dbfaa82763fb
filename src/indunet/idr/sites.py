"""Where a prefix is served: HS_SITE values, read and written.

A node that allocates a prefix (the top-level node a secondary prefix, a secondary node an
enterprise prefix) keeps the prefix's record ``0.NA/<prefix>``; its HS_SITE values say which sites
serve the prefix. Each HS_SITE value is one replica site (a mirror holding the same records); a site
lists its servers and, for each, the interfaces (UDP, TCP, HTTP) and ports it answers on (RFC 3651,
3.2.2). A record without HS_SITE values means the prefix is served where its record is.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from indunet.idr.model import HS_SITE, HandleValue
from indunet.idr.wire.errors import WireError
from indunet.idr.wire.values import (
    PrimaryMask,
    ServerRecord,
    ServiceInterface,
    ServiceType,
    SiteInfo,
    TransmissionProtocol,
    decode_site,
    encode_site,
)

SITE_INDEX_BASE = 1
"""HS_SITE values take indexes 1, 2, ... in a prefix record (Handle.Net's custom)."""
SITE_TTL_S = 86_400


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_endpoint(text: str) -> Endpoint:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) with a literal IP address; ValueError when not one."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    ipaddress.ip_address(host)  # a site record holds addresses, never names
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not HOST:PORT")
    return Endpoint(host, int(port))


def site(
    servers: Sequence[Endpoint],
    *,
    http_ports: Sequence[int | None] = (),
    primary: bool = True,
    serial: int = 1,
) -> SiteInfo:
    """A site whose servers answer resolution and administration over UDP and TCP (and HTTP when
    an HTTP port is given for that server)."""
    records = []
    for number, endpoint in enumerate(servers, start=1):
        kinds = ServiceType.RESOLUTION | ServiceType.ADMIN
        interfaces = [
            ServiceInterface(kinds, TransmissionProtocol.UDP, endpoint.port),
            ServiceInterface(kinds, TransmissionProtocol.TCP, endpoint.port),
        ]
        http = http_ports[number - 1] if number <= len(http_ports) else None
        if http is not None:
            interfaces.append(ServiceInterface(kinds, TransmissionProtocol.HTTP, http))
        records.append(ServerRecord.for_ip(number, endpoint.host, interfaces=tuple(interfaces)))
    return SiteInfo(
        servers=tuple(records), serial=serial, primary=PrimaryMask.PRIMARY if primary else PrimaryMask(0)
    )


def site_values(sites: Iterable[SiteInfo], ttl: int = SITE_TTL_S) -> list[HandleValue]:
    return [HandleValue(SITE_INDEX_BASE + n, HS_SITE, encode_site(s), ttl=ttl) for n, s in enumerate(sites)]


def sites_of(values: Iterable[HandleValue]) -> list[SiteInfo]:
    """The replica sites a record names, primary sites first; undecodable HS_SITE values are skipped
    (one bad mirror entry must not hide the others)."""
    found = []
    for value in values:
        if value.type != HS_SITE:
            continue
        try:
            found.append(decode_site(value.data))
        except WireError:
            continue
    return sorted(found, key=lambda s: PrimaryMask.PRIMARY not in s.primary)


def endpoints(site_info: SiteInfo, protocol: TransmissionProtocol) -> list[Endpoint]:
    """The addresses at which a site's servers resolve over ``protocol``."""
    out = []
    for server in site_info.servers:
        for interface in server.interfaces:
            if interface.protocol == protocol and ServiceType.RESOLUTION in interface.type:
                out.append(Endpoint(str(server.ip), interface.port))
    return out
