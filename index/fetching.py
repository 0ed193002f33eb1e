"""The one way newsdesk fetches from the web (`/add URL`, Discord attachments, feeds and their articles).

Why one module: every fetch a user can point somewhere is a server-side request on the user's behalf, so each
one gets the same policy (`FetchPolicy`, built from `Settings`):

- http and https only; a URL with no host is refused.
- Every address a host name resolves to is checked, and the connection goes to the checked address: the check
  lives in the aiohttp resolver (`CheckingResolver`), and aiohttp connects to exactly what the resolver returned,
  so a name that answers a public address to a check and a private one to the connection (DNS rebinding) has no
  second lookup to win. Literal IP hosts (which aiohttp never sends to a resolver) are checked before the
  request. Refused: loopback, private, shared (100.64/10), link-local, multicast, reserved and unspecified
  addresses, IPv4 and IPv6, including IPv4-mapped, 6to4 and Teredo forms of them. `fetch_allow_private` or a
  CIDR in `fetch_allow_networks` lets intranets (and tests) through.
- Redirects are followed by hand, each hop checked like the first, at most `max_redirects` of them.
- A total timeout; the body is read in chunks and the fetch stops as soon as it passes `max_bytes`, whatever
  Content-Length said (aiohttp decompresses while streaming, so the cap holds for the decompressed body).
- A long-lived caller (the Discord bot) opens one session with `policy_session` and passes it to every fetch;
  a session is accepted only if `policy_session` made it for the same address rules, since the checks live in
  its connector (a plain `aiohttp.ClientSession` would connect anywhere).
- Failures raise `FetchError`, whose text is always the same generic sentence (`GENERIC_ERROR`): a refused
  address, a closed port, a timeout and a 404 look the same to the user, so error texts cannot map a network.
  `FetchError.detail` says what happened, for the log and for operators.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from multidict import CIMultiDict, CIMultiDictProxy

from .acceptance import max_bytes as size_limit

if TYPE_CHECKING:
    from .settings import Settings

log = logging.getLogger(__name__)

__all__ = ["GENERIC_ERROR", "CheckingResolver", "Fetched", "FetchError", "FetchPolicy", "Fetcher",
           "address_problem", "fetch", "policy_session"]

GENERIC_ERROR = "Could not fetch that URL."
CHUNK_BYTES = 64 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchError(Exception):
    """A fetch failed. `str()` is the generic user text; `detail` what happened (log, operators' status);
    `status` the HTTP status when the server answered one; `too_large` whether the size cap stopped it;
    `refused` whether the policy refused the URL or its address (nothing was sent)."""

    def __init__(self, detail: str, *, status: int | None = None, too_large: bool = False,
                 refused: bool = False) -> None:
        super().__init__(GENERIC_ERROR)
        self.detail = detail
        self.status = status
        self.too_large = too_large
        self.refused = refused

    @property
    def transient(self) -> bool:
        """Whether trying again later may succeed (a timeout, a lost connection, a server error)."""
        return (self.status or 0) >= 500 or (self.status is None and not self.too_large and not self.refused)

    @property
    def reason(self) -> str:
        """A short reason safe to show (feed status): the HTTP status or the size cap, which only a server the
        policy allowed can cause, else the generic text (refused address, closed port, timeout look alike)."""
        if self.status is not None:
            return f"HTTP {self.status}"
        if self.too_large:
            return "larger than the size limit"
        return GENERIC_ERROR.rstrip(".")


@dataclass(frozen=True)
class FetchPolicy:
    """What a fetch may do. `from_settings` builds it from the one settings object."""

    max_bytes: int
    timeout: float = 20.0
    max_redirects: int = 5
    allow_private: bool = False
    allow_networks: tuple[IPNetwork, ...] = ()
    user_agent: str = "newsdesk/0.1 (self-hosted news bot)"

    @property
    def address_rules(self) -> tuple[bool, tuple[IPNetwork, ...]]:
        """What decides which addresses may be reached (the part of the policy a session's connector holds)."""
        return self.allow_private, self.allow_networks

    @classmethod
    def from_settings(cls, settings: Settings, *, max_bytes: int | None = None) -> FetchPolicy:
        return cls(max_bytes=max_bytes if max_bytes is not None else size_limit(settings),
                   timeout=settings.fetch_timeout, max_redirects=settings.fetch_max_redirects,
                   allow_private=settings.fetch_allow_private,
                   allow_networks=tuple(ipaddress.ip_network(n, strict=False)
                                        for n in settings.fetch_allow_networks))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped ::ffff:a.b.c.d, 6to4, Teredo client), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def _category(ip: IPAddress) -> str | None:
    """Why `ip` is not a public unicast address, or None when it is."""
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_multicast:
        return "multicast"
    if ip.is_link_local:
        return "link-local"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "not global"
    return None


def address_problem(address: str | IPAddress, policy: FetchPolicy) -> str | None:
    """Why `policy` refuses to connect to `address` (e.g. '127.0.0.1 is loopback'), or None when allowed."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    except ValueError:
        return f"{address!r} is not an IP address"
    inner = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    for candidate in (inner, ip):  # the embedded IPv4 first: it names the real destination
        if candidate is None:
            continue
        if any(candidate in net for net in policy.allow_networks):
            continue
        category = _category(candidate)
        if category is None:
            continue
        if policy.allow_private and category not in ("multicast", "unspecified"):
            continue
        return f"{ip} is {category}" + (f" ({candidate})" if candidate is not ip else "")
    return None


def check_url(url: str, policy: FetchPolicy) -> str:
    """`url` if its scheme and (for a literal IP) its address pass `policy`; raises FetchError otherwise."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise FetchError(f"invalid URL: {exc}", refused=True) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError(f"scheme {parts.scheme or '(none)'!r} refused: http and https only", refused=True)
    if not host:
        raise FetchError("URL without a host", refused=True)
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return url  # a name: checked by CheckingResolver when it is resolved
    problem = address_problem(host, policy)
    if problem:
        raise FetchError(f"address refused: {problem}", refused=True)
    return url


class CheckingResolver(AbstractResolver):
    """Resolves with `inner` (default: aiohttp's ThreadedResolver) and refuses the host when any address it
    resolves to fails the policy. aiohttp connects to the returned addresses, so nothing is resolved twice."""

    def __init__(self, policy: FetchPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self._inner = inner

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        if self._inner is None:
            self._inner = aiohttp.ThreadedResolver()
        results = await self._inner.resolve(host, port, family)
        for result in results:
            problem = address_problem(result["host"], self.policy)
            if problem:
                raise FetchError(f"address refused: {host} resolves to {problem}", refused=True)
        if not results:
            raise FetchError(f"{host} resolves to no address")
        return results

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()


@dataclass
class Fetched:
    """A fetched response: the final URL (after redirects), its status, headers and body (empty for a 304)."""

    url: str
    status: int
    headers: CIMultiDictProxy[str] | CIMultiDict[str] = field(default_factory=CIMultiDict)
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()


# session → the address rules its connector checks; only sessions made by `policy_session` are in it
_SESSION_RULES: weakref.WeakKeyDictionary[aiohttp.ClientSession, tuple[bool, tuple[IPNetwork, ...]]] = (
    weakref.WeakKeyDictionary())


def policy_session(policy: FetchPolicy, *, resolver: AbstractResolver | None = None) -> aiohttp.ClientSession:
    """A client session whose connector checks every address against `policy` (`CheckingResolver`), with no
    cookies and no proxy from the environment. Must be created inside a running event loop and closed by its
    owner (`async with policy_session(policy) as session:`). `resolver` replaces the system's name resolution
    (tests inject one; the policy still checks its answers)."""
    connector = aiohttp.TCPConnector(resolver=CheckingResolver(policy, resolver), limit_per_host=4)
    session = aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False,
        timeout=aiohttp.ClientTimeout(total=policy.timeout), headers={"User-Agent": policy.user_agent})
    _SESSION_RULES[session] = policy.address_rules
    return session


class Fetcher:
    """Fetches under `policy`; use as `async with Fetcher(policy) as f: await f.get(url)`.

    Without `session` it opens its own (`policy_session`) and closes it on exit. A `session` passed in is used
    and left open; it must come from `policy_session` with the same address rules (ValueError otherwise), so
    sharing a session never loosens the address checks. `resolver` is for a session of its own only."""

    def __init__(self, policy: FetchPolicy, *, resolver: AbstractResolver | None = None,
                 session: aiohttp.ClientSession | None = None) -> None:
        if session is not None:
            if resolver is not None:
                raise ValueError("a resolver belongs to the session: pass it to policy_session")
            if _SESSION_RULES.get(session) != policy.address_rules:
                raise ValueError("the session does not check addresses under this policy: "
                                 "make it with policy_session(policy)")
        self.policy = policy
        self._resolver = resolver
        self._own = session is None
        self._session = session

    async def __aenter__(self) -> Fetcher:
        if self._own:
            self._session = policy_session(self.policy, resolver=self._resolver)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._own and self._session is not None:
            await self._session.close()
            self._session = None

    async def get(self, url: str, *, headers: Mapping[str, str] | None = None,
                  accept: Iterable[int] = (), max_bytes: int | None = None) -> Fetched:
        """GET `url` under the policy. Any 2xx status, and those in `accept` (e.g. 304), are returned; others
        raise FetchError (with `status`). `max_bytes` lowers the policy's cap for this fetch."""
        assert self._session is not None, "use Fetcher as an async context manager"
        limit = self.policy.max_bytes if max_bytes is None else min(max_bytes, self.policy.max_bytes)
        accepted = set(accept)
        current = url
        try:
            async with asyncio.timeout(self.policy.timeout):
                for _hop in range(self.policy.max_redirects + 1):
                    check_url(current, self.policy)
                    async with self._session.get(current, headers=headers, allow_redirects=False) as resp:
                        location = resp.headers.get("Location")
                        if resp.status in REDIRECT_STATUSES and location:
                            current = urljoin(current, location)
                            log.debug("redirect %s -> %s", resp.url, current)
                            continue
                        if not (200 <= resp.status < 300 or resp.status in accepted):
                            raise FetchError(f"HTTP {resp.status}", status=resp.status)
                        body = await _read_capped(resp, limit)
                        return Fetched(str(resp.url), resp.status, CIMultiDict(resp.headers), body)
                raise FetchError(f"more than {self.policy.max_redirects} redirects", refused=True)
        except FetchError as exc:
            log.info("fetch of %s failed: %s", url, exc.detail)
            raise
        except TimeoutError:
            log.info("fetch of %s failed: timed out after %g s", url, self.policy.timeout)
            raise FetchError(f"timed out after {self.policy.timeout:g} s") from None
        except aiohttp.InvalidURL as exc:
            log.info("fetch of %s failed: invalid URL", url)
            raise FetchError(f"invalid URL ({exc})") from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            log.info("fetch of %s failed: %s: %s", url, type(exc).__name__, exc)
            raise FetchError(f"{type(exc).__name__}: {exc}") from None


async def _read_capped(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    if resp.content_length is not None and resp.content_length > limit:
        raise FetchError(f"too large: Content-Length {resp.content_length} > {limit} bytes", too_large=True)
    data = bytearray()
    async for chunk in resp.content.iter_chunked(CHUNK_BYTES):
        data += chunk
        if len(data) > limit:
            raise FetchError(f"too large: more than {limit} bytes", too_large=True)
    return bytes(data)


async def fetch(url: str, policy: FetchPolicy, *, resolver: AbstractResolver | None = None,
                session: aiohttp.ClientSession | None = None, **kwargs: Any) -> Fetched:
    """One GET under `policy`, in `session` (from `policy_session`) or else in a session of its own (see
    `Fetcher` and `Fetcher.get` for the other arguments)."""
    async with Fetcher(policy, resolver=resolver, session=session) as fetcher:
        return await fetcher.get(url, **kwargs)
