"""Date phrases in questions and article text (index/dates.py)."""
from __future__ import annotations

from datetime import date

import pytest

from newsdesk.index.dates import DateMention, DateRange, parse_date, question_dates, strip_dates, text_dates
from tests.samples import FIXTURES

ARTICLE = FIXTURES / "004_563c2adb94c7b42a.txt"
PUBLISHED = date(2019, 4, 19)  # a Friday


def day(y: int, m: int, d: int) -> DateRange:
    return DateRange(date(y, m, d), date(y, m, d))


def span(a: tuple[int, int, int], b: tuple[int, int, int]) -> DateRange:
    return DateRange(date(*a), date(*b))


# ---- DateRange ---------------------------------------------------------------------------------


def test_range_contains_is_inclusive() -> None:
    r = span((2019, 4, 15), (2019, 4, 21))
    assert r.contains(date(2019, 4, 15)) and r.contains(date(2019, 4, 21))
    assert not r.contains(date(2019, 4, 14)) and not r.contains(date(2019, 4, 22))


# ---- questions ---------------------------------------------------------------------------------

ASKED = date(2019, 4, 20)  # a Saturday


@pytest.mark.parametrize(
    ("question", "asked", "expected"),
    [
        ("what did Pompeo say on April 7?", ASKED, [day(2019, 4, 7)]),
        ("what did Pompeo say on April 21?", ASKED, [day(2018, 4, 21)]),  # not in the future
        ("what did Pompeo say on April 20?", ASKED, [day(2019, 4, 20)]),  # same day counts
        ("what did he say on April 7, 2017?", ASKED, [day(2017, 4, 7)]),
        ("statements from 7 April", ASKED, [day(2019, 4, 7)]),
        ("what happened on the 7th of April 2018", ASKED, [day(2018, 4, 7)]),
        ("what did Trump say about Libya last week", date(2019, 4, 24), [span((2019, 4, 15), (2019, 4, 21))]),
        ("last week", date(2019, 4, 21), [span((2019, 4, 8), (2019, 4, 14))]),  # asked on a Sunday
        ("news this week", date(2019, 4, 17), [span((2019, 4, 15), (2019, 4, 21))]),
        ("what happened yesterday", ASKED, [day(2019, 4, 19)]),
        ("what happened today", ASKED, [day(2019, 4, 20)]),
        ("what did Bolton say on Monday", ASKED, [day(2019, 4, 15)]),
        ("what did Bolton say last Friday", ASKED, [day(2019, 4, 19)]),
        ("what did Bolton say on friday", date(2019, 4, 19), [day(2019, 4, 12)]),  # strictly before
        ("what happened in 2011", ASKED, [span((2011, 1, 1), (2011, 12, 31))]),
        ("what happened in April 2019", ASKED, [span((2019, 4, 1), (2019, 4, 30))]),
        ("what happened in May", ASKED, [span((2018, 5, 1), (2018, 5, 31))]),
        ("last month", ASKED, [span((2019, 3, 1), (2019, 3, 31))]),
        ("last month", date(2019, 1, 10), [span((2018, 12, 1), (2018, 12, 31))]),
        ("last year", ASKED, [span((2018, 1, 1), (2018, 12, 31))]),
        ("what was said on 2019-04-07", ASKED, [day(2019, 4, 7)]),
        ("what did he say Oct. 14, 2017", ASKED, [day(2017, 10, 14)]),
        ("between April 7 and April 10", ASKED, [span((2019, 4, 7), (2019, 4, 10))]),
        ("since April 7", ASKED, [span((2019, 4, 7), (2019, 4, 20))]),
        ("3 days ago", ASKED, [day(2019, 4, 17)]),
        ("what did Pompeo say about Libya", ASKED, []),
        ("how many of the 2000 troops left", ASKED, []),
    ],
)
def test_question_dates(question: str, asked: date, expected: list[DateRange]) -> None:
    assert question_dates(question, asked) == expected


def test_leap_day_without_year_goes_back_to_a_leap_year() -> None:
    assert question_dates("on February 29", date(2019, 4, 20)) == [day(2016, 2, 29)]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("what did Pompeo say on April 7?", "what did Pompeo say?"),
        ("What did Pompeo say about Libya last week?", "What did Pompeo say about Libya?"),
        ("In 2011, what happened to Gaddafi?", "what happened to Gaddafi?"),
        ("what did Trump say between April 7 and April 10?", "what did Trump say?"),
        ("what did Pompeo say about Libya?", "what did Pompeo say about Libya?"),
    ],
)
def test_strip_dates(question: str, expected: str) -> None:
    assert strip_dates(question) == expected


# ---- article text ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def article() -> str:
    return ARTICLE.read_text(encoding="utf-8")


def _first(mentions: list[DateMention], phrase: str) -> DateMention:
    for m in mentions:
        if m.text == phrase:
            return m
    raise AssertionError(f"{phrase!r} not found in {[m.text for m in mentions]}")


def test_text_dates_on_article(article: str) -> None:
    mentions = text_dates(article, PUBLISHED)
    for m in mentions:
        assert article[m.start : m.end] == m.text  # offsets round-trip
    assert _first(mentions, "on Monday").range == day(2019, 4, 15)
    assert _first(mentions, "on April 7").range == day(2019, 4, 7)
    assert _first(mentions, "April 7").range == day(2019, 4, 7)  # "his April 7 statement"
    assert _first(mentions, "on Friday").range == day(2019, 4, 19)  # publication day itself
    assert _first(mentions, "on Wednesday").range == day(2019, 4, 17)
    assert _first(mentions, "in 2011").range == span((2011, 1, 1), (2011, 12, 31))
    assert _first(mentions, "February 28, 2019").range == day(2019, 2, 28)
    assert _first(mentions, "October 14, 2017").range == day(2017, 10, 14)
    assert _first(mentions, "this week").range == span((2019, 4, 15), (2019, 4, 21))
    assert _first(mentions, "earlier this month").range == span((2019, 4, 1), (2019, 4, 19))
    # "as recently as Monday": a bare capitalised weekday counts
    bare = [m for m in mentions if m.text == "Monday"]
    assert bare and all(m.range == day(2019, 4, 15) for m in bare)


def test_text_dates_without_reference_keeps_only_self_contained_dates(article: str) -> None:
    texts = [m.text for m in text_dates(article, None)]
    assert texts == ["February 28, 2019", "in 2011", "October 14, 2017", "in 2017"]


def test_text_dates_weekday_rules() -> None:
    friday = date(2019, 4, 19)
    text = "He spoke on Friday. She spoke last Friday. They meet next Monday. It rained Thursday."
    got = {m.text: m.range for m in text_dates(text, friday)}
    assert got == {
        "on Friday": day(2019, 4, 19),
        "last Friday": day(2019, 4, 12),
        "next Monday": day(2019, 4, 22),
        "Thursday": day(2019, 4, 18),
    }


def test_text_month_day_takes_the_year_on_or_before_reference() -> None:
    got = text_dates("The vote on December 3 was close.", date(2019, 4, 19))
    assert [m.range for m in got] == [day(2018, 12, 3)]


def test_text_dates_need_capitalised_month_and_weekday_names() -> None:
    text = "Protesters may 3 times march 5 miles; a monday meeting."
    assert text_dates(text, date(2019, 4, 19)) == []


def test_text_relative_phrases() -> None:
    ref = date(2019, 4, 17)  # Wednesday
    text = "Yesterday he left. Last week they met. Earlier this week she spoke. Last month it rained. Two weeks ago."
    got = [(m.text, m.range) for m in text_dates(text, ref)]
    assert got == [
        ("Yesterday", day(2019, 4, 16)),
        ("Last week", span((2019, 4, 8), (2019, 4, 14))),
        ("Earlier this week", span((2019, 4, 15), (2019, 4, 17))),
        ("Last month", span((2019, 3, 1), (2019, 3, 31))),
        ("Two weeks ago", span((2019, 4, 1), (2019, 4, 7))),
    ]


# ---- parse_date --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019-04-19", "2019-04-19"),
        ("2019-04-19T23:30:00-04:00", "2019-04-19"),
        ("2019-04-19T10:00:00Z", "2019-04-19"),
        ("2019-04-19 10:00", "2019-04-19"),
        ("2019/04/19", "2019-04-19"),
        ("20190419", "2019-04-19"),
        ("April 19, 2019", "2019-04-19"),
        ("Apr. 19, 2019", "2019-04-19"),
        ("19 April 2019", "2019-04-19"),
        ("Friday, April 19, 2019", "2019-04-19"),
        ("Fri, 19 Apr 2019 10:00:00 +0000", "2019-04-19"),
        ("04/19/2019", "2019-04-19"),
        ("19/04/2019", "2019-04-19"),
        ("Published April 19, 2019 at 10:00 AM", "2019-04-19"),
        ("2019-02-30", None),
        ("April 19", None),
        ("2019", None),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_date(value: str | None, expected: str | None) -> None:
    assert parse_date(value) == expected
