"""/follow, /feeds and /unfollow over the Discord fake with the real engine and a loopback news site: refused to a
member, and for an admin the followed feed's new articles are indexed, announced in DISCORD_NEWS_CHANNEL and
answered."""
from __future__ import annotations

import pytest

from tests.discord_fake import ADMIN, CHANNEL_ID, MEMBER
from tests.feed_server import Entry, FeedSite
from tests.test_feeds import BRIDGE, FERRY


@pytest.fixture
async def site():
    s = await FeedSite().start()
    s.pages["/"] = (200, "text/html", b"<html><head><link rel='alternate' type='application/rss+xml' "
                                      b"href='/rss.xml'></head><body>Home</body></html>")
    s.article("/articles/ferry.html", "Ferry Marigold Star sets a record", FERRY)
    s.article("/articles/bridge.html", "Calloway bridge reopens", BRIDGE)
    s.rss = [Entry("/articles/ferry.html", "Ferry Marigold Star sets a record", "Tue, 18 Nov 2026 09:00:00 GMT"),
             Entry("/articles/bridge.html", "Calloway bridge reopens", "Wed, 19 Nov 2026 09:00:00 GMT")]
    yield s
    await s.stop()


async def test_follow_is_admin_only_and_new_articles_are_announced_and_answered(sample_engine, discord_fake,
                                                                               start_discord_bot, site, monkeypatch):
    monkeypatch.setattr(sample_engine.settings, "fetch_allow_private", True)  # the news site is on loopback
    await start_discord_bot(sample_engine, discord_news_channel=CHANNEL_ID)

    for command, options in (("follow", {"url": site.url("/")}), ("feeds", {}),
                             ("unfollow", {"url": site.url("/")})):
        refused = await discord_fake.send_slash(command, options, user=MEMBER)
        await discord_fake.wait_response(refused)
        assert refused.ephemeral and "Manage Server" in refused.text(), refused.text()
    assert site.hits == []  # nothing fetched for a member

    followed = await discord_fake.send_slash("follow", {"url": site.url("/")}, user=ADMIN)
    await discord_fake.wait_response(followed)
    assert followed.ephemeral
    assert followed.text().startswith(f"Following **Harbour Times** <{site.url('/rss.xml')}> (2 entries now)")

    posted = await discord_fake.wait_messages(CHANNEL_ID, count=1, timeout=120)
    assert sorted(posted[0]["content"].split("\n")) == ["new: Calloway bridge reopens (Harbour Times)",
                                                        "new: Ferry Marigold Star sets a record (Harbour Times)"]
    asked = await discord_fake.send_slash("ask", {"question": "How many passengers did the Marigold Star carry "
                                                              "on its maiden voyage?"})
    await discord_fake.wait_response(asked)
    # the quote, cited by the article's title linked to the page it was fetched from
    assert "4,812 passengers" in asked.text()
    assert f"[Ferry Marigold Star sets a record]({site.url('/articles/ferry.html')})" in asked.text()

    listed = await discord_fake.send_slash("feeds", user=ADMIN)
    await discord_fake.wait_response(listed)
    assert "Harbour Times" in listed.text() and "2 articles" in listed.text()

    dropped = await discord_fake.send_slash("unfollow", {"url": site.url("/rss.xml")}, user=ADMIN)
    await discord_fake.wait_response(dropped)
    assert dropped.text().startswith(f"Stopped following <{site.url('/rss.xml')}>")
    listed = await discord_fake.send_slash("feeds", user=ADMIN)
    await discord_fake.wait_response(listed)
    assert listed.text() == "No feeds followed. Add one with /follow."
