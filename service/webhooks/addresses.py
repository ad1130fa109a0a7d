"""Where a webhook may go, and the address it goes to.

A webhook is a request the service makes on an admin's say-so, so it must not be a
way into the service's own network (server-side request forgery): its URL must be
https:// and its name must resolve only to public addresses, not loopback, private,
link-local, shared (carrier NAT), multicast or reserved ones, nor one of those
wrapped in an IPv6 address (mapped, 6to4, NAT64). `CORESPOND_WEBHOOK_ALLOW_PRIVATE`
lifts both rules, for development and tests.

The name is resolved once and the delivery connects to that address, sending the
name as the Host header and the TLS server name (so the certificate is checked
against the name): a name that answers a public address to the check and a private
one to the connection (DNS rebinding) gets nowhere.
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")


class Refused(Exception):
    """The URL may not be reached; the message says why, for an admin to read."""


@dataclass(frozen=True, slots=True)
class Destination:
    """A webhook's URL with its name resolved: connect to `address`, and speak to the
    URL's host."""

    url: str
    address: IPAddress

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "https"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or (443 if self.tls else 80)

    @property
    def target(self) -> str:
        """The request line's path and query."""
        parts = urlsplit(self.url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    @property
    def host_header(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def server_name(self) -> str:
        """The TLS server name: the URL's host, which the certificate must name."""
        return urlsplit(self.url).hostname or str(self.address)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _embedded(address: IPAddress) -> list[IPAddress]:
    """The IPv4 address an IPv6 one carries, if any (the more telling), then itself."""
    if isinstance(address, ipaddress.IPv4Address):
        return [address]
    found: list[IPAddress] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [*found, address]


def refusal_of(address: IPAddress) -> str | None:
    """What kind of non-public address `address` is ('a loopback address'), or None if
    a webhook may reach it."""
    for each in _embedded(address):
        # The most telling name first: 127.0.0.1 is also "private" to the library.
        if each.is_unspecified:
            return "an unspecified address"
        if each.is_loopback:
            return "a loopback address"
        if each.is_link_local:
            return "a link-local address"
        if each.is_multicast:
            return "a multicast address"
        if isinstance(each, ipaddress.IPv4Address) and each in _SHARED:
            return "a shared (carrier NAT) address"
        if each.is_reserved:
            return "a reserved address"
        if each.is_private or not each.is_global:
            return "a private address"
    return None


def check_scheme(url: str, *, allow_private: bool) -> None:
    if urlsplit(url).scheme != "https" and not allow_private:
        raise Refused(
            "must be https://: deliveries carry an agency's events "
            "(plain http:// is for development, with CORESPOND_WEBHOOK_ALLOW_PRIVATE=true)"
        )


async def resolve(url: str, *, allow_private: bool, timeout_s: float) -> Destination:
    """Check `url` and resolve its name once: the address to connect to. Raises
    `Refused`, saying why, for a plain http:// URL, a name that does not resolve, or
    one that resolves to any address that is not public (unless `allow_private`)."""
    check_scheme(url, allow_private=allow_private)
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = _literal(host)
    addresses = [literal] if literal is not None else await _lookup(host, timeout_s)
    if not allow_private:
        for address in addresses:
            if (why := refusal_of(address)) is not None:
                named = f"{host} is" if literal is not None else f"{host} resolves to {address},"
                raise Refused(
                    f"{named} {why}: webhooks reach only public addresses "
                    "(CORESPOND_WEBHOOK_ALLOW_PRIVATE=true is for development)"
                )
    return Destination(url=url, address=addresses[0])


async def _lookup(host: str, timeout_s: float) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout_s):
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise Refused(f"{host} did not resolve within {timeout_s:g} s") from None
    except (OSError, UnicodeError) as exc:
        raise Refused(f"{host} does not resolve ({exc})") from None
    found: list[IPAddress] = []
    for info in infos:
        # A link-local IPv6 answer names its interface (`fe80::1%eth0`).
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise Refused(f"{host} does not resolve")
    return found
