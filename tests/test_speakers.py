"""Quotations and their speakers (index/speakers.py)."""
from __future__ import annotations


import pytest

from newsdesk.index.speaker_index import speaks_for
from newsdesk.index.speakers import Quotation, extract_quotations, name_matches, speaker_mentions, speaker_roles
from tests.samples import FIXTURES

ARTICLE = FIXTURES / "004_563c2adb94c7b42a.txt"


@pytest.fixture(scope="module")
def article() -> str:
    return ARTICLE.read_text(encoding="utf-8")


def find(text: str, quotes: list[Quotation], opening: str) -> Quotation:
    for q in quotes:
        if text[q.start : q.end].startswith(opening):
            return q
    raise AssertionError(f"no quotation starts with {opening!r}: {[text[q.start:q.end][:40] for q in quotes]}")


def only(text: str) -> Quotation:
    quotes = extract_quotations(text)
    assert len(quotes) == 1, [text[q.start : q.end] for q in quotes]
    return quotes[0]


# ---- the sample article ------------------------------------------------------------------------


def test_offsets_round_trip_to_the_words_inside_the_marks(article: str) -> None:
    quotes = extract_quotations(article)
    assert quotes
    for q in quotes:
        inner = article[q.start : q.end]
        assert inner == inner.strip() and inner
        assert article[q.start - 1] in "\"“«"
        if q.closed:
            assert article[q.end] in "\"”»"
        if q.speaker_start is not None:
            assert q.speaker_end is not None and article[q.speaker_start : q.speaker_end].strip()


def test_pompeo_april_7_quotes(article: str) -> None:
    quotes = extract_quotations(article)
    oppose = find(article, quotes, "We have made clear that we oppose")
    assert article[oppose.start : oppose.end].endswith("against the Libyan capital,")
    no_solution = find(article, quotes, "There is no military solution to the Libya conflict,")
    continued = find(article, quotes, "This is why the United States continues")
    for q in (oppose, no_solution, continued):
        assert q.speaker == "Mike Pompeo"  # "Pompeo" expanded from "Secretary of State Mike Pompeo"
        assert name_matches("Pompeo", q.speaker)
        assert article[q.speaker_start : q.speaker_end] == "Pompeo"
    assert no_solution.verb == "added" and continued.verb == "added"
    assert find(article, quotes, "deeply concerned").speaker == "Mike Pompeo"


def test_national_security_council_quotes(article: str) -> None:
    quotes = extract_quotations(article)
    first = find(article, quotes, "The characterizations of conversations")
    assert article[first.start : first.end].endswith("are inaccurate,")
    second = find(article, quotes, "We encouraged Bloomberg not to run it with bad information.")
    for q in (first, second):
        assert q.speaker == "Garrett Marquis"
        assert q.role == "National Security Council spokesman"
        assert q.verb == "said"


def test_white_house_quotes(article: str) -> None:
    quotes = extract_quotations(article)
    recognized = find(article, quotes, "recognized [Haftar's] significant role")
    assert recognized.speaker == "White House"
    assert name_matches("white house", recognized.speaker)
    # passive "were also said to have discussed" is not an attribution; the trailing one is
    assert find(article, quotes, "shared vision for Libya").speaker == "White House"


def test_article_has_no_quote_for_single_quoted_headline(article: str) -> None:
    quotes = extract_quotations(article)
    assert all("This is our answer" not in article[q.start : q.end] for q in quotes)


# ---- attribution forms -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "speaker", "verb"),
    [
        ('Pompeo said: "We oppose the offensive."', "Pompeo", "said"),
        ('Trump said on Twitter: "Great call with Haftar!"', "Trump", "said"),
        ('"We will not stand for this," Pompeo said.', "Pompeo", "said"),
        ('"We will not stand for this," said Pompeo.', "Pompeo", "said"),
        ('“We will not stand for this,” said Secretary of State Mike Pompeo, in Washington.', "Mike Pompeo", "said"),
        ('"Is this a crisis?" asked Pompeo.', "Pompeo", "asked"),
        ('"The talks collapsed," according to Reuters.', "Reuters", "according to"),
        ('According to Reuters, "the talks collapsed."', "Reuters", "according to"),
        ('Egyptian President Abdel Fattah El-Sisi told reporters: "We support Haftar."', "Abdel Fattah El-Sisi", "told"),
        ('"We are done," Haftar\'s spokesman Ahmed al-Mismari said.', "Ahmed al-Mismari", "said"),
        ('Bolton warned that the US would "not tolerate" attacks.', "Bolton", "warned"),
        # a name, an aside, then the verb; "told X" names whom it was told to, not the speaker
        ('Dr. Sameh Iskander, head of the mission, told CBS News that the heads were "obviously offerings."',
         "Sameh Iskander", "told"),
        ('Carney, in his statement, said he would ensure a "robust regulatory system."', "Carney", "said"),
        # a quotation that ends with one it quotes: the nested quotation's closing mark before its own
        ("“This is exactly why Margaret Thatcher said, 'If you want something said, ask a man,’” Haley said.",
         "Haley", "said"),
        ("“Who was it who said, 'Do or do not?’” Yoda asked.", "Yoda", "asked"),
    ],
)
def test_attribution_forms(text: str, speaker: str, verb: str) -> None:
    q = only(text)
    assert q.speaker == speaker
    assert q.verb == verb


def test_title_goes_to_role() -> None:
    q = only('White House National Security Adviser John Bolton said the US would "not tolerate" it.')
    assert (q.speaker, q.role) == ("John Bolton", "White House National Security Adviser")


@pytest.mark.parametrize(
    "text",
    [
        '"It was productive," officials told the Associated Press.',
        'Officials told the Associated Press that it was "productive."',
        '"It was productive," a State Department spokeswoman said.',
        'The so-called "deep state" is back.',
        'He called it "fake news" on the trail.',  # pronoun with no antecedent
    ],
)
def test_no_named_speaker(text: str) -> None:
    assert only(text).speaker is None


# ---- clean labels: what the text attributes the words to, nothing around the name -----------------


@pytest.mark.parametrize(
    ("text", "speaker", "role"),
    [
        # a word opening the sentence is no part of the name
        ('Bill Lee spoke first. But Lee said: "There is a desire to find a way forward."', "Bill Lee", None),
        ('Howie Mandel froze. When Mandel said "I feel stabbed," the crowd gasped.', "Howie Mandel", None),
        ('On Tuesday Rita Moreno said: "We are not done."', "Rita Moreno", None),
        # a day after the name is when, not who
        ('"We are ready," Iowa Wednesday said.', "Iowa", None),
        # party and job words before a name are the role
        ('"It is a sham," Republican James Comer said.', "James Comer", "Republican"),
        ('"Nobody wins tonight," Pollster Frank Luntz said.', "Frank Luntz", "Pollster"),
        # an acronym before a full name is the body the person speaks for
        ('"We mistakenly used an old stock image," senior director, communications at ESPN Ben Cafardo wrote.',
         "Ben Cafardo", "communications at ESPN"),
        # "Title of Place" is the speaker as named; a name after it is the person
        ('"Stand firm," the Archbishop of Canterbury said.', "Archbishop of Canterbury", None),
        ('"London is open," Mayor of London Sadiq Khan said.', "Sadiq Khan", "Mayor of London"),
        # a place after "from" or "of" is where the speaker is from
        ('"It was a big fight," Sen. Chuck Grassley from Iowa said.', "Chuck Grassley", "Sen."),
        ('"We will fight," said Rep. Justin Pearson of Memphis.', "Justin Pearson", "Rep."),
        # ... also where the person was named in full before their surname speaks
        ('The House expelled Reps. Gloria Johnson of Knoxville and Justin Jones of Nashville.\n\n'
         '"No one told me," Johnson said.', "Gloria Johnson", None),
        # a question's "Will" before a name is no first name
        ('Will Novak Djokovic win again? "I hope we meet," Djokovic said.', "Novak Djokovic", None),
        # a name that ends in 's speaks as itself
        ('"We are sorry," McDonald\'s said in a statement.', "McDonald's", None),
        # job words and a possessive before a name are not part of it
        ('"This is unprecedented," said Walterboro City Manager Jeff Molinari.', "Jeff Molinari",
         "Walterboro City Manager"),
        ('"We were told," said Historian Edward Spencer Dyas.', "Edward Spencer Dyas", "Historian"),
        ('"It is a sign," The Atlantic\u2019s David A. Graham wrote.', "David A. Graham", "Atlantic\u2019s"),
        # an initial is part of the name
        ('"Iowa is where it starts," said pollster J. Ann Selzer, who ran the poll.', "J. Ann Selzer", "pollster"),
        ('George W. Bush spoke first. "We will see," Bush said.', "George W. Bush", None),
        # a country speaks through its government, named by the country's adjective
        ('"It is a violation of our sovereignty," the Mexican government said.', "Mexican government",
         "Mexican government"),
        # a body named in full, then by its first word
        ('Kaiser Permanente faces a strike. "We continue to make progress," Kaiser said.', "Kaiser Permanente", None),
    ],
)
def test_label_is_the_name_alone(text: str, speaker: str, role: str | None) -> None:
    q = extract_quotations(text)[-1]
    assert (q.speaker, q.role) == (speaker, role)


@pytest.mark.parametrize("text", ['The 31-year-old from Mexico described his round as "a big fight."',
                                  '"We will respond," the Republican from South Carolina said.',
                                  'Officials in Kyiv said the strike was "a war crime."'])
def test_place_after_from_is_not_the_speaker(text: str) -> None:
    assert only(text).speaker is None


def test_one_word_body_speaks_through_its_staff() -> None:
    assert speaks_for("ESPN", "communications at ESPN")
    assert speaks_for("OpenAI", "a spokesperson for OpenAI")
    assert not speaks_for("ESPN", "a former ESPN anchor")


def test_roles_given_where_a_quoted_person_is_named() -> None:
    text = (
        'Tennessee Gov. Bill Lee visited the plant. "It means jobs," Lee said.\n\n'
        'Air Force Brig. Gen. Pat Ryder, the Pentagon press secretary, said the balloon was "a threat."\n\n'
        "Jane Roe, a local resident, watched."
    )
    assert speaker_roles(text, extract_quotations(text)) == {
        "Bill Lee": ["Tennessee Gov."], "Pat Ryder": ["Air Force Brig. Gen.", "Pentagon press secretary"]}


def test_pronoun_resolves_to_the_last_named_subject() -> None:
    text = 'Secretary of State Mike Pompeo spoke on Monday. "We are worried," he said. "Very worried."'
    quotes = extract_quotations(text)
    assert [q.speaker for q in quotes] == ["Mike Pompeo", "Mike Pompeo"]
    assert text[quotes[0].speaker_start : quotes[0].speaker_end] == "he"


def test_pronoun_prefers_the_previous_speaker() -> None:
    text = (
        '"We will respond," Pompeo said. Meanwhile Khalifa Haftar visited troops in Benghazi.\n\n'
        '"We are ready," he added.'
    )
    quotes = extract_quotations(text)
    assert [q.speaker for q in quotes] == ["Pompeo", "Pompeo"]


def test_pronoun_prefers_sentence_subject_over_object() -> None:
    text = 'Angela Merkel met Emmanuel Macron in Paris. "It was a good meeting," she added.'
    assert only(text).speaker == "Angela Merkel"


def test_pronoun_skips_a_person_of_the_other_gender() -> None:
    text = (
        '"This is misconduct," Eric Trump said, calling it an attack on his father.\n\n'
        "But their sister, Ivanka Trump, said nothing until Friday, when she offered a cautious response.\n\n"
        '"I love my father, and I love my country," she wrote.'
    )
    assert [q.speaker for q in extract_quotations(text)] == ["Eric Trump", "Ivanka Trump"]


def test_pronoun_with_no_one_of_its_gender_is_unattributed() -> None:
    text = 'Coach Mike White said his team played well. "I take the high road," she said.'
    assert only(text).speaker is None


def test_pronoun_never_stands_for_a_place() -> None:
    # a place's name is not a person: "he" (or "the press secretary") has no one to stand for here; Andy Reid,
    # the sentence's subject, is "he" although the place is named after him
    text = 'Visitors packed Las Vegas on Friday.\n\n"It is going to be a fan favorite," he said.'
    assert only(text).speaker is None
    text = 'Coach Andy Reid landed in Las Vegas on Friday.\n\n"It is going to be a fan favorite," he said.'
    assert only(text).speaker == "Andy Reid"
    text = 'Migrants crossed into the United States.\n\n"We deploy every tool," the press secretary said.'
    assert only(text).speaker is None
    text = 'Inside Westminster Abbey, the king knelt.\n\n"So help me God," he said.'
    assert only(text).speaker is None


def test_pronoun_after_someone_reacting_is_that_person_not_the_one_reacted_to() -> None:
    text = ('"We will march," said Domingo Garcia, the group\'s president.\n\n'
            "Jeremy Redfern, DeSantis' press secretary, dismissed the announcement.\n\n"
            '"We are not going to waste time," he said.')
    assert [q.speaker for q in extract_quotations(text)] == ["Domingo Garcia", "Jeremy Redfern"]
    text = ("Chris Christie criticized Ron DeSantis for sidestepping a question.\n\n"
            'He later added, "This is the problem."')
    assert only(text).speaker == "Chris Christie"


def test_pronoun_never_stands_for_an_organisation() -> None:
    text = 'A reporter for the San Francisco Chronicle was there.\n\n"I deplore it," he said.'
    assert only(text).speaker is None


def test_pronoun_after_a_new_sayer_is_that_sayer() -> None:
    text = ('"Hopefully he comes," Angel Reese said Saturday.\n\nHaley Cavinder echoed that.\n\n'
            '"Hopefully he comes to the game," she said.')
    assert [q.speaker for q in extract_quotations(text)] == ["Angel Reese", "Haley Cavinder"]


def test_pronoun_after_a_later_sayer_is_that_sayer() -> None:
    text = (
        'Dr. Hani Maarouf estimated the baby was born hours earlier. "She would have died," he said.\n\n'
        "California quakes should be more frequent, said Robert Muir-Wood, a risk officer. Building codes are "
        'better in California, Muir-Wood said.\n\n"Such earthquakes should be twice as common," he said.'
    )
    quotes = extract_quotations(text)
    assert quotes[-1].speaker == "Robert Muir-Wood"


def test_pronoun_is_read_where_it_stands() -> None:
    text = 'Violent TikTok trends were shown. Shou Zi Chew spoke. He said TikTok had taken "real action."'
    assert only(text).speaker == "Shou Zi Chew"


def test_quote_reopening_the_next_paragraph_goes_on() -> None:
    text = (
        'Mike White spoke after the game. "I praised Oklahoma," White said. "I said they reloaded.\n\n'
        '"I did not call her a cheater."\n\nPatty Gasso was asked about it.'
    )
    assert [q.speaker for q in extract_quotations(text)] == ["Mike White"] * 3


def test_quote_split_around_attribution() -> None:
    text = '"I don\'t know," Trump said, "but we will see."'
    assert [q.speaker for q in extract_quotations(text)] == ["Trump", "Trump"]


def test_continuation_stops_at_a_new_sentence_with_content() -> None:
    text = '"We are worried," Pompeo said. Trump disagreed with him on Friday. "Nonsense."'
    quotes = extract_quotations(text)
    assert quotes[0].speaker == "Pompeo"
    assert quotes[1].speaker is None


def test_multi_paragraph_quote_open_at_paragraph_end() -> None:
    text = "\u201cWe have made clear that we oppose it.\n\n\u201cWe urge a halt,\u201d Pompeo added."
    quotes = extract_quotations(text)
    assert [text[q.start : q.end] for q in quotes] == ["We have made clear that we oppose it.", "We urge a halt,"]
    assert [q.closed for q in quotes] == [False, True]
    assert [q.speaker for q in quotes] == ["Pompeo", "Pompeo"]


def test_colon_at_paragraph_end_introduces_next_paragraph_quote() -> None:
    text = 'Pompeo said in a statement:\n\n"We oppose the offensive by Haftar."'
    assert only(text).speaker == "Pompeo"


def test_surname_is_expanded_only_from_earlier_full_name() -> None:
    text = 'Khalifa Haftar met envoys. "We will win," Haftar said. "No," said Smith.'
    quotes = extract_quotations(text)
    assert [q.speaker for q in quotes] == ["Khalifa Haftar", "Smith"]


def test_speaker_mentions_strip_titles() -> None:
    text = "President Donald Trump spoke as Secretary of State Mike Pompeo looked on."
    assert [m.name for m in speaker_mentions(text)] == ["Donald Trump", "Mike Pompeo"]
    for m in speaker_mentions(text):
        assert text[m.start : m.end] == m.name


# ---- name_matches ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "speaker", "expected"),
    [
        ("Pompeo", "Mike Pompeo", True),
        ("pompeo", "Secretary of State Mike Pompeo", True),
        ("Secretary Pompeo", "Mike Pompeo", True),
        ("Mike Pompeo", "Pompeo", True),
        ("President Trump", "Donald Trump", True),
        ("white house", "White House", True),
        ("Haftar's", "Khalifa Haftar", True),
        ("Neill", "Séamus Ó Néill", True),
        ("Pompe", "Mike Pompeo", False),
        ("Mike Smith", "Mike Pompeo", False),
        ("Wynonna Judd", "Wynona Judd", True),  # a spelling that doubles a letter
        ("Brandon Johnson", "Cam Johnson", False),
        ("John Smith", "Jon Smith", False),  # too short a first name to tell a spelling from another person
        ("State Department", "Defense Department", False),
        ("Trump", None, False),
        ("Mexico", "Mexican government", True),  # a country and its government
        ("China", "Chinese foreign ministry", True),
        ("Russia", "Russian Defense Ministry", True),
        ("Mexico", "Mexican singer", False),
        ("Mexico", "New Mexican", False),
        ("", "Mike Pompeo", False),
    ],
)
def test_name_matches(query: str, speaker: str | None, expected: bool) -> None:
    assert name_matches(query, speaker) is expected
