"""The one URL policy (index/fetching.py) against real aiohttp servers on 127.0.0.1 and 127.0.0.2.

No test asks the internet's DNS: names are 'localhost' (the system resolver) or resolved by an injected resolver.
"""
from __future__ import annotations

import asyncio
import ipaddress
import socket

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver

from newsdesk.index.fetching import (GENERIC_ERROR, FetchError, FetchPolicy, address_problem, fetch,
                                       policy_session)
from newsdesk.index.settings import Settings

MB = 1024 * 1024
SECRET = b"internal password: hunter2"


class Server:
    """A real aiohttp server on one loopback address; records every path it was asked for."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.hits: list[str] = []
        self.big_sent = 0
        self.redirect_to = ""
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> Server:
        app = web.Application()
        app.router.add_get("/article", self._article)
        app.router.add_get("/secret", self._secret)
        app.router.add_get("/redirect", self._redirect)
        app.router.add_get("/loop", self._loop)
        app.router.add_get("/big", self._big)
        app.router.add_get("/slow", self._slow)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    async def _article(self, request: web.Request) -> web.Response:
        self.hits.append("/article")
        return web.Response(text="An article about the harbour ferry.", content_type="text/plain")

    async def _secret(self, request: web.Request) -> web.Response:
        self.hits.append("/secret")
        return web.Response(body=SECRET, content_type="text/plain")

    async def _redirect(self, request: web.Request) -> web.Response:
        self.hits.append("/redirect")
        raise web.HTTPFound(self.redirect_to)

    async def _loop(self, request: web.Request) -> web.Response:
        self.hits.append("/loop")
        raise web.HTTPFound("/loop")

    async def _big(self, request: web.Request) -> web.StreamResponse:
        """50 MB, chunked (no Content-Length to trust or distrust)."""
        self.hits.append("/big")
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        chunk = b"x" * MB
        try:
            for _ in range(50):
                await resp.write(chunk)
                self.big_sent += len(chunk)
        except (ConnectionError, RuntimeError):
            return resp
        await resp.write_eof()
        return resp

    async def _slow(self, request: web.Request) -> web.Response:
        self.hits.append("/slow")
        await asyncio.sleep(5)
        return web.Response(text="late")


class MapResolver(AbstractResolver):
    """Resolves names from a dict (what a DNS server would answer); counts lookups."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names
        self.lookups: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET):
        self.lookups.append(host)
        if host not in self.names:
            raise OSError(f"unknown name {host}")
        return [{"hostname": host, "host": a, "port": port,
                 "family": socket.AF_INET6 if ":" in a else socket.AF_INET, "proto": 0, "flags": 0}
                for a in self.names[host]]

    async def close(self) -> None:
        pass


class NoResolver(MapResolver):
    def __init__(self) -> None:
        super().__init__({})

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET):
        raise AssertionError(f"a literal address must be checked without a lookup ({host})")


@pytest.fixture
async def server():
    s = await Server().start()
    yield s
    await s.stop()


def policy(**kw) -> FetchPolicy:
    return FetchPolicy(**{"max_bytes": MB, "timeout": 10.0, **kw})


async def test_loopback_refused_by_default_and_accepted_with_the_allow_setting(server):
    with pytest.raises(FetchError) as refused:
        await fetch(server.url("/article"), policy())
    assert "loopback" in refused.value.detail
    assert str(refused.value) == GENERIC_ERROR
    with pytest.raises(FetchError) as by_name:  # a name resolving to loopback, through the system resolver
        await fetch(server.url("/article", host="localhost"), policy())
    assert "address refused: localhost resolves to" in by_name.value.detail
    assert server.hits == []  # nothing reached the server

    allowed = Settings(_env_file=None, fetch_allow_private=True)
    got = await fetch(server.url("/article"), FetchPolicy.from_settings(allowed))
    assert got.status == 200 and got.body == b"An article about the harbour ferry."
    assert got.content_type == "text/plain"
    narrow = FetchPolicy.from_settings(Settings(_env_file=None, fetch_allow_networks="127.0.0.1/32"))
    assert (await fetch(server.url("/article"), narrow)).status == 200
    assert server.hits == ["/article", "/article"]


async def test_numeric_spellings_of_loopback_are_refused(server):
    """Decimal, hex, short and trailing-dot spellings of 127.0.0.1 (which getaddrinfo would map to it)."""
    for host in ("2130706433", "0x7f.1", "127.1", "0177.0.0.1", "127.0.0.1.", "[::ffff:7f00:1]"):
        with pytest.raises(FetchError) as exc:
            await fetch(f"http://{host}:{server.port}/article", policy())
        assert str(exc.value) == GENERIC_ERROR, host
    assert server.hits == []


async def test_the_connection_goes_to_the_checked_address(server):
    """The injected resolver's answer is where aiohttp connects ('news.example' exists in no DNS), and a name
    with any refused address is refused whole."""
    names = MapResolver({"news.example": ["127.0.0.1"], "mixed.example": ["93.184.216.34", "127.0.0.1"]})
    got = await fetch(f"http://news.example:{server.port}/article", policy(allow_private=True), resolver=names)
    assert got.body.startswith(b"An article")
    with pytest.raises(FetchError) as refused:
        await fetch(f"http://mixed.example:{server.port}/article", policy(), resolver=names)
    assert "mixed.example resolves to 127.0.0.1 is loopback" in refused.value.detail
    assert server.hits == ["/article"]


async def test_a_redirect_to_a_refused_address_is_refused(server):
    inner = await Server("127.0.0.2").start()
    try:
        server.redirect_to = inner.url("/secret")
        only_first = policy(allow_networks=(ipaddress.ip_network("127.0.0.1/32"),))
        with pytest.raises(FetchError) as refused:
            await fetch(server.url("/redirect"), only_first)
        assert "127.0.0.2 is loopback" in refused.value.detail
        assert str(refused.value) == GENERIC_ERROR
        assert server.hits == ["/redirect"] and inner.hits == []

        both = policy(allow_networks=(ipaddress.ip_network("127.0.0.0/8"),))
        got = await fetch(server.url("/redirect"), both)  # the same redirect where the target is allowed
        assert got.body == SECRET and got.url == inner.url("/secret")

        with pytest.raises(FetchError) as looping:
            await fetch(server.url("/loop"), policy(allow_private=True, max_redirects=3))
        assert looping.value.detail == "more than 3 redirects"
        assert server.hits.count("/loop") == 4
    finally:
        await inner.stop()


async def test_an_oversize_body_is_stopped_while_streaming(server):
    with pytest.raises(FetchError) as big:
        await fetch(server.url("/big"), policy(allow_private=True, max_bytes=2 * MB))
    assert big.value.too_large and str(big.value) == GENERIC_ERROR
    await asyncio.sleep(0.2)  # let the server notice the closed connection
    assert server.big_sent < 20 * MB  # the client hung up long before the 50 MB were sent


async def test_timeout_closed_port_and_http_errors_read_the_same(server):
    allow = policy(allow_private=True, timeout=0.5)
    errors = []
    for url in (server.url("/slow"), server.url("/missing"), "http://127.0.0.1:9/closed"):
        with pytest.raises(FetchError) as exc:
            await fetch(url, allow)
        errors.append(exc.value)
    assert {str(e) for e in errors} == {GENERIC_ERROR}
    assert errors[0].detail == "timed out after 0.5 s"
    assert errors[1].status == 404 and errors[1].detail == "HTTP 404"
    assert "Connect" in errors[2].detail or "refused" in errors[2].detail.lower()


@pytest.mark.parametrize("address, category", [
    ("127.0.0.1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.10", "private"), ("172.16.5.4", "private"),
    ("169.254.169.254", "link-local"), ("100.64.0.1", "not global"), ("0.0.0.0", "unspecified"),
    ("224.0.0.1", "multicast"), ("240.0.0.1", "reserved"), ("::1", "loopback"), ("fe80::1", "link-local"),
    ("fc00::5", "private"), ("::", "unspecified"), ("ff02::1", "multicast"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.169.254", "link-local"), ("2002:a00:1::", "private"),
])
async def test_private_and_special_literal_addresses_are_refused_without_a_lookup(address, category):
    assert category in (address_problem(address, policy()) or "")
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(FetchError) as exc:
        await fetch(f"http://{host}/latest", policy(), resolver=NoResolver())
    assert exc.value.detail.startswith("address refused") and category in exc.value.detail


def test_public_addresses_pass_and_the_allow_setting_keeps_multicast_out():
    assert address_problem("93.184.216.34", policy()) is None
    assert address_problem("2606:2800:220:1:248:1893:25c8:1946", policy()) is None
    assert address_problem("10.0.0.1", policy(allow_private=True)) is None
    assert "multicast" in (address_problem("224.0.0.1", policy(allow_private=True)) or "")


async def test_only_http_and_https():
    for url in ("file:///etc/passwd", "ftp://example.com/x", "gopher://127.0.0.1:25/", "http:///nohost"):
        with pytest.raises(FetchError) as exc:
            await fetch(url, policy(allow_private=True), resolver=NoResolver())
        assert str(exc.value) == GENERIC_ERROR


def test_allow_networks_setting_is_validated():
    with pytest.raises(ValueError):
        Settings(_env_file=None, fetch_allow_networks="10.0.0.0/33")
    assert Settings(_env_file=None, fetch_allow_networks="10.0.0.0/8, fd00::/8").fetch_allow_networks == [
        "10.0.0.0/8", "fd00::/8"]


async def test_a_shared_session_keeps_checking_every_address(server):
    """One session from `policy_session` serves many fetches (the bot's /add) and still refuses what the policy
    refuses; a session that does not check addresses under the same rules is not accepted at all."""
    names = MapResolver({"news.example": ["127.0.0.1"], "inside.example": ["127.0.0.1"]})
    allow_one = policy(allow_networks=(ipaddress.ip_network("127.0.0.1/32"),))
    async with policy_session(allow_one, resolver=names) as session:
        for _ in range(2):
            got = await fetch(f"http://news.example:{server.port}/article", allow_one, session=session)
            assert got.body.startswith(b"An article")
        with pytest.raises(FetchError) as refused:  # literal address outside the allowed network
            await fetch(server.url("/secret", host="127.0.0.2"), allow_one, session=session)
        assert "127.0.0.2 is loopback" in refused.value.detail
        assert not session.closed  # a session passed in is left open for the next fetch
    assert server.hits == ["/article", "/article"]

    strict = policy()
    async with policy_session(strict, resolver=names) as session:
        with pytest.raises(FetchError) as by_name:
            await fetch(f"http://inside.example:{server.port}/secret", strict, session=session)
        assert "inside.example resolves to 127.0.0.1 is loopback" in by_name.value.detail
        with pytest.raises(ValueError, match="policy_session"):  # made for other address rules
            await fetch(server.url("/secret"), policy(allow_private=True), session=session)
    async with aiohttp.ClientSession() as plain:  # connects anywhere: refused before any request
        with pytest.raises(ValueError, match="policy_session"):
            await fetch(server.url("/secret"), policy(allow_private=True), session=plain)
    assert server.hits == ["/article", "/article"]
