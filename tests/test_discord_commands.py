"""Unit tests of the command helpers that need no Discord connection."""
from __future__ import annotations

import pytest

from newsdesk.bot.discord_commands import combine_follow_up, name_for_url, strip_mentions
from newsdesk.index.acceptance import plain_name


@pytest.mark.parametrize("name, expected", [
    ("article.txt", "article.txt"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\x\\news story (1).html", "news-story-1-.html"),
    ("...", "article"),
])
def test_plain_name(name, expected):
    assert plain_name(name) == expected


@pytest.mark.parametrize("url, content_type, expected", [
    ("https://news.example.com/2019/04/libya-story", "text/html; charset=utf-8", "libya-story.html"),
    ("https://news.example.com/report.pdf", "application/octet-stream", "report.pdf"),
    ("https://news.example.com/", "text/html", "news.example.com.html"),
    ("https://news.example.com/a%20b.txt", None, "a-b.txt"),
])
def test_name_for_url(url, content_type, expected):
    assert name_for_url(url, content_type) == expected


def test_follow_up_and_mentions():
    assert combine_follow_up("what did Pompeo say?", " and Trump? ") == "what did Pompeo say? and Trump?"
    assert len(combine_follow_up("x" * 900, "y" * 900)) == 1000
    assert combine_follow_up("x" * 900, "y" * 900).endswith("y" * 900)
    assert strip_mentions("<@123> what did <@!123> say? <@456>", 123) == "what did say? <@456>"


def test_role_by_name_or_id():
    from types import SimpleNamespace

    from newsdesk.bot.discord_commands import has_role

    member = SimpleNamespace(roles=[SimpleNamespace(id=42, name="Editors")])
    assert has_role(member, "editors") and has_role(member, "42") and has_role(member, " Editors ")
    assert not has_role(member, "Admins") and not has_role(SimpleNamespace(), "42")
