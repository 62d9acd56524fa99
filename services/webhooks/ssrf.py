"""Refusing webhook targets inside private networks (SSRF), on the resolved address.

A webhook URL names a host; the host is resolved and EVERY address it resolves to must be a
public unicast address, unless it lies in a network the platform allow-lists
(`PROWD_WEBHOOK_ALLOWED_NETWORKS`). The check runs when an endpoint is created or changed and
again at every delivery, and the delivery then connects to the address that was checked, so a
name that re-resolves to an internal address between the check and the connection (DNS
rebinding) is never reached.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeTarget(Exception):
    """The webhook target is not a public address (or cannot be resolved)."""


def parse_networks(raw: str) -> tuple[IPNetwork, ...]:
    """`PROWD_WEBHOOK_ALLOWED_NETWORKS`: comma-separated CIDRs (an address alone is a /32)."""
    out: list[IPNetwork] = []
    for part in raw.split(","):
        part = part.strip()
        if part:
            try:
                out.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise SystemExit(
                    f"PROWD_WEBHOOK_ALLOWED_NETWORKS: {part!r} is not a CIDR network"
                ) from None
    return tuple(out)


def _public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _public(ip.ipv4_mapped)
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def check_address(ip: IPAddress, allowed: Sequence[IPNetwork]) -> None:
    if any(ip.version == net.version and ip in net for net in allowed):
        return
    if not _public(ip):
        raise UnsafeTarget(
            f"{ip} is a private, loopback, link-local, multicast or reserved address"
        )


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    ip: IPAddress


def resolve(url: str, allowed: Sequence[IPNetwork]) -> Target:
    """The checked address to connect to for `url`; raises UnsafeTarget."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as e:
            raise UnsafeTarget(f"the host {host!r} cannot be resolved") from e
        addresses = []
        for info in infos:
            ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if ip not in addresses:
                addresses.append(ip)
        if not addresses:
            raise UnsafeTarget(f"the host {host!r} resolves to no address")
    # Every address must pass: a name with one public and one internal address is refused.
    for ip in addresses:
        check_address(ip, allowed)
    return Target(parts.scheme, host, port, addresses[0])
