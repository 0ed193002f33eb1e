"""End to end: /reindex and /add over the Discord fake with the real Engine (its own corpus copy: these
tests write to it). Permissions in two layers, attachments, links, and the errors users see."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.discord_fake import ADMIN, EDITOR, EDITOR_ROLE_NAME, GUILD_ID, MEMBER

FERRY_ARTICLE = b"""Harbour ferry Marigold Star sets a record on its maiden voyage

By Dana Whitlock

The new harbour ferry Marigold Star carried 4,812 passengers on its maiden voyage across the bay, the port \
authority said on Tuesday. "We have never seen a crowd like it on a first crossing," said harbourmaster Ines \
Okafor, who added that the vessel completed the trip in 38 minutes.

The ferry was built at the Larchmont shipyard and is the first in the fleet to run entirely on batteries.
"""


@pytest.fixture
def corpus(sample_engine) -> Path:
    return Path(sample_engine.settings.corpus)


async def test_reindex_refused_to_a_member_and_run_for_an_admin(sample_engine, discord_fake, start_discord_bot,
                                                                 corpus):
    await start_discord_bot(sample_engine)
    refused = await discord_fake.send_slash("reindex", user=MEMBER)
    await discord_fake.wait_response(refused)
    assert refused.ephemeral and refused.callback["type"] == 4
    assert "Manage Server" in refused.text()

    (corpus / "broken.pdf").write_bytes(b"this is not a pdf")
    try:
        done = await discord_fake.send_slash("reindex", user=ADMIN)
        await discord_fake.wait_response(done, timeout=60)
    finally:
        (corpus / "broken.pdf").unlink()
    assert done.deferred and done.ephemeral
    embed = done.messages[0]["embeds"][0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert set(fields) == {"Added", "Updated", "Removed", "Unchanged", "Skipped"}
    assert fields["Skipped"] == "1"
    assert "`broken.pdf`:" in embed["description"]  # with the reason
    assert discord_fake.rejections == []


async def test_add_attachment_then_ask_about_it(sample_engine, discord_fake, start_discord_bot, corpus):
    await start_discord_bot(sample_engine)
    attachment = discord_fake.attachment("marigold-star.txt", FERRY_ARTICLE)

    refused = await discord_fake.send_slash("add", {"file": attachment}, user=MEMBER)
    await discord_fake.wait_response(refused)
    assert refused.ephemeral and "Manage Server" in refused.text()
    assert not (corpus / "marigold-star.txt").exists()
    assert not any(r.path.startswith("/files/") for r in discord_fake.requests)  # nothing downloaded

    added = await discord_fake.send_slash("add", {"file": attachment}, user=ADMIN)
    await discord_fake.wait_response(added, timeout=60)
    assert added.ephemeral
    assert "Added marigold-star.txt" in added.text(), added.text()
    assert (corpus / "marigold-star.txt").read_bytes() == FERRY_ARTICLE

    asked = await discord_fake.send_slash("ask", {"question": "How many passengers did the Marigold Star carry "
                                                              "on its maiden voyage?"})
    await discord_fake.wait_response(asked)
    text = asked.text()
    assert "4,812 passengers" in text
    assert "`marigold-star.txt`" in text
    assert "index of 3 articles" in text
    assert discord_fake.rejections == []


async def test_add_from_a_url_and_by_the_configured_role(sample_engine, discord_fake, start_discord_bot, corpus,
                                                        monkeypatch):
    monkeypatch.setattr(sample_engine.settings, "fetch_allow_private", True)  # the fake serves on loopback
    await start_discord_bot(sample_engine, discord_admin_role=EDITOR_ROLE_NAME)
    synced = {c["name"]: c for c in discord_fake.guild_commands[GUILD_ID]}
    assert synced["add"]["default_member_permissions"] is None  # visible to the role; the bot checks
    assert synced["reindex"]["default_member_permissions"] == str(1 << 5)
    url = discord_fake.serve_file("harbour-news", FERRY_ARTICLE.replace(b"Marigold", b"Bluebell"),
                                  "text/plain; charset=utf-8")
    refused = await discord_fake.send_slash("add", {"url": url}, user=MEMBER)
    await discord_fake.wait_response(refused)
    assert refused.ephemeral and f"the **{EDITOR_ROLE_NAME}** role" in refused.text()

    added = await discord_fake.send_slash("add", {"url": url}, user=EDITOR)  # no Manage Server, but the role
    await discord_fake.wait_response(added, timeout=60)
    assert "Added harbour-news.txt" in added.text(), added.text()
    assert (corpus / "harbour-news.txt").exists()
    # /reindex stays Manage Server only
    refused = await discord_fake.send_slash("reindex", user=EDITOR)
    await discord_fake.wait_response(refused)
    assert "Manage Server" in refused.text()


@pytest.mark.parametrize("case", ["oversized", "unsupported", "bad-scheme", "both", "neither", "http-404"])
async def test_add_errors_are_clear_and_ephemeral(sample_engine, discord_fake, start_discord_bot, corpus, case,
                                                  monkeypatch):
    monkeypatch.setattr(sample_engine.settings, "fetch_allow_private", True)  # the fake serves on loopback
    await start_discord_bot(sample_engine)
    limit = int(sample_engine.settings.max_file_mb * 1024 * 1024)
    options: dict = {
        "oversized": {"file": discord_fake.attachment("huge.txt", b"tiny", size=limit + 1)},
        "unsupported": {"file": discord_fake.attachment("virus.exe", b"MZ\x90\x00")},
        "bad-scheme": {"url": "file:///etc/passwd"},
        "both": {"file": discord_fake.attachment("a.txt", b"a"), "url": "https://example.com/a"},
        "neither": {},
        "http-404": {"url": f"{discord_fake.base_url}/files/missing.html"},
    }[case]
    expected = {
        "oversized": "the limit is", "unsupported": "unsupported file type .exe",
        "bad-scheme": "Only http:// and https://", "both": "one of the two", "neither": "one of the two",
        "http-404": "Could not fetch that URL. Nothing was added.",  # the same text for every failed fetch
    }[case]
    before = sorted(p.name for p in corpus.iterdir())
    interaction = await discord_fake.send_slash("add", options, user=ADMIN)
    await discord_fake.wait_response(interaction)
    assert interaction.ephemeral
    assert expected in interaction.text(), interaction.text()
    assert sorted(p.name for p in corpus.iterdir()) == before
    if case == "oversized":  # refused on the attachment's declared size, before any download
        assert not any(r.path == "/files/huge.txt" for r in discord_fake.requests)
    if case == "unsupported":  # refused on the attachment's name (the check the index run makes), not downloaded
        assert not any(r.path == "/files/virus.exe" for r in discord_fake.requests)


async def test_watch_indexes_new_files(sample_engine, discord_fake, start_discord_bot, corpus, monkeypatch):
    """NEWSDESK_WATCH: files dropped into the corpus folder are indexed without /reindex."""
    import asyncio

    monkeypatch.setattr(sample_engine.settings, "watch", True)
    bot = await start_discord_bot(sample_engine)
    assert bot._watch is not None
    before = (await asyncio.to_thread(sample_engine.status)).documents
    (corpus / "watched-ferry.txt").write_bytes(FERRY_ARTICLE.replace(b"Marigold", b"Goldcrest"))
    try:
        for _ in range(200):
            if (await asyncio.to_thread(sample_engine.status)).documents == before + 1:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the watcher did not index the new file")
        asked = await discord_fake.send_slash("ask", {"question": "How many passengers did the Goldcrest Star "
                                                                  "carry on its maiden voyage?"})
        await discord_fake.wait_response(asked)
        assert "`watched-ferry.txt`" in asked.text()
    finally:
        (corpus / "watched-ferry.txt").unlink()
    await bot.close()  # stops the watcher thread
    assert bot._watch is None


async def test_reindex_while_another_writer_holds_the_lock(sample_engine, discord_fake, start_discord_bot):
    from newsdesk.index.errors import IndexLocked

    bot = await start_discord_bot(sample_engine)

    def locked(**kw):
        raise IndexLocked("another index run holds the lock")

    bot.engine.index = locked
    try:
        interaction = await discord_fake.send_slash("reindex", user=ADMIN)
        await discord_fake.wait_response(interaction)
    finally:
        del bot.engine.index
    assert interaction.ephemeral
    assert interaction.text() == "Reindexing failed: another index run holds the lock"
