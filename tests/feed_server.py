"""A loopback news site for the feed tests: an RSS feed (ETag), an Atom feed (Last-Modified), a home page that
announces the RSS feed, article pages, robots.txt, and hostile cases (a broken feed, a 404, a 50 MB page, a
redirect to another loopback address, a page without article text). Everything it serves can be changed by
the test between polls; every request is recorded."""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from xml.sax.saxutils import escape

from aiohttp import web

MB = 1024 * 1024


def article_html(title: str, paragraphs: list[str], site: str = "Harbour Times") -> str:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (f"<html><head><title>{escape(title)} | {site}</title>"
            f"<meta property='og:site_name' content='{site}'></head><body><nav><a href='/'>Home</a> "
            f"<a href='/news'>News</a></nav><article><h1>{escape(title)}</h1>{body}</article>"
            f"<footer>Copyright {site}</footer></body></html>")


@dataclass
class Entry:
    path: str
    title: str
    date: str  # RFC 822 for RSS, ISO 8601 for Atom; changing it marks an update


@dataclass
class FeedSite:
    host: str = "127.0.0.1"
    port: int = 0
    pages: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)  # path -> (status, type, body)
    rss: list[Entry] = field(default_factory=list)
    atom: list[Entry] = field(default_factory=list)
    robots: str = "User-agent: *\nDisallow: /private/\n"
    redirects: dict[str, str] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # time.monotonic() of each request
    big_sent: int = 0
    atom_modified: float = 1_700_000_000.0
    _runner: web.AppRunner | None = None

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def article(self, path: str, title: str, paragraphs: list[str]) -> None:
        self.pages[path] = (200, "text/html; charset=utf-8", article_html(title, paragraphs).encode())

    async def start(self) -> FeedSite:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def article_hits(self) -> list[str]:
        return [h for h in self.hits if h not in ("/rss.xml", "/atom.xml", "/robots.txt")]

    # -- documents -----------------------------------------------------------------------------------------------
    def rss_xml(self) -> bytes:
        items = "".join(f"<item><title>{escape(e.title)}</title><link>{self.url(e.path)}?utm_source=rss</link>"
                        f"<guid>{e.path}</guid><pubDate>{e.date}</pubDate><author>desk@harbour.example "
                        f"(Dana Whitlock)</author></item>" for e in self.rss)
        return (f"<?xml version='1.0'?><rss version='2.0'><channel><title>Harbour Times</title>"
                f"<link>{self.url('/')}</link><description>News</description>{items}</channel></rss>").encode()

    def atom_xml(self) -> bytes:
        entries = "".join(f"<entry><title>{escape(e.title)}</title><link href='{e.path}'/><id>{e.path}</id>"
                          f"<updated>{e.date}</updated><author><name>Ines Okafor</name></author></entry>"
                          for e in self.atom)
        return (f"<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom' "
                f"xml:base='{self.url('/')}'><title>Bay Courier</title><id>urn:bay</id>"
                f"<updated>2026-11-20T10:00:00Z</updated>{entries}</feed>").encode()

    # -- handler -------------------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.hits.append(path)
        self.arrivals.append(time.monotonic())
        if path == "/robots.txt":
            return web.Response(text=self.robots)
        if path in self.pages and path in ("/rss.xml", "/atom.xml"):  # a feed replaced by a test
            status, content_type, body = self.pages[path]
            return web.Response(status=status, body=body, headers={"Content-Type": content_type})
        if path == "/rss.xml":
            body = self.rss_xml()
            etag = '"' + hashlib.sha1(body).hexdigest()[:12] + '"'
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers={"ETag": etag})
            return web.Response(body=body, headers={"ETag": etag, "Content-Type": "application/rss+xml"})
        if path == "/atom.xml":
            modified = formatdate(self.atom_modified, usegmt=True)
            if request.headers.get("If-Modified-Since") == modified:
                return web.Response(status=304)
            return web.Response(body=self.atom_xml(), headers={"Last-Modified": modified,
                                                                "Content-Type": "application/atom+xml"})
        if path in self.redirects:
            raise web.HTTPFound(self.redirects[path])
        if path == "/huge.html":
            return await self._huge(request)
        if path not in self.pages:
            return web.Response(status=404, text="not found")
        status, content_type, body = self.pages[path]
        return web.Response(status=status, body=body, headers={"Content-Type": content_type})

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/html"})
        await resp.prepare(request)
        try:
            await resp.write(b"<html><body><article><p>")
            for _ in range(50):
                await resp.write(b"word " * (MB // 5))
                self.big_sent += MB
        except (ConnectionError, RuntimeError):
            return resp
        await resp.write_eof()
        return resp
