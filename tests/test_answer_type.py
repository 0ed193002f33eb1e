"""The answer-type feature on crafted questions and sentences: the type a quiz-style question asks for, and
whether a sentence holds a candidate of that type the question does not already name."""
from __future__ import annotations

import pytest

from newsdesk.index.answer_type import asked_type, expected_type, type_fit
from newsdesk.index.questions import analyze


@pytest.mark.parametrize("question, kind, unit", [
    ("Which state has been drenched by a powerful storm this week?", "place", None),
    ("Huge crowds lined the streets of which country to pay tribute to the soccer great?", "place", None),
    ("Which home goods chain said it has substantial doubt it can stay in business?", "org", None),
    ("Damar Hamlin is a valued member of which team?", "org", None),
    ("Which film scored the most Oscar nominations this week?", "title", None),
    ("Which of these films did she appear in?", "title", None),
    ("The Vatican held a funeral for the first time in how many years?", "number", "years"),
    ("How much have egg prices increased over the past year?", "number", None),
    ("The president intends to end the emergency in which month of this year?", "month", None),
    ("She has served as prime minister since when?", "year", None),
    ("Who won the award for best actress at the Golden Globes?", "person", None),
    ("The skier broke the record previously held by:", "person", None),
    ("Where is the climate summit being held?", "place", None),
    ("Which Republican suffered a string of defeats?", "person", None),
])
def test_the_asked_type_comes_from_the_wh_phrase_and_its_head_noun(question: str, kind: str, unit: str | None) -> None:
    e = expected_type(question)
    assert e is not None and (e.kind, e.unit) == (kind, unit)


@pytest.mark.parametrize("question", [
    "What did the company say about the layoffs?",  # the noun after "did" is no head noun
    "Why did the talks collapse?",
    "Former Twitter executives were questioned about what?",
    "Which Margaret Thatcher line did Nikki Haley borrow at the debate?",  # words asked for, not a name
])
def test_a_question_whose_form_does_not_tell_has_no_type(question: str) -> None:
    assert expected_type(question) is None


def test_a_place_from_the_gazetteer_that_the_question_lacks_fits_a_place_question() -> None:
    e = expected_type("Burger chain In-N-Out announced this week it was expanding to which state?")
    assert type_fit(e, "In-N-Out announced Tuesday it will open a corporate hub in Tennessee.") == 1.0
    # the restating sentence names no new place: In-N-Out is the question's own name, California is a place but
    # "Tennessee" is what the other sentence adds; a sentence of names that are not places does not fit
    assert type_fit(e, "The chain In-N-Out said the expansion was announced by Lynsi Snyder.") == 0.0
    # a place the question already names is no answer
    q = expected_type("Which country did the Chinese balloon belong to?")
    assert type_fit(q, "The balloon flew over Montana before it was shot down.") == 1.0
    assert type_fit(expected_type("Which state is Montana's neighbour?"), "Montana officials watched.") == 0.0


def test_a_count_with_the_asked_unit_fits_better_than_a_bare_number() -> None:
    e = expected_type("The Vatican held a funeral for a former pope for the first time in how many years?")
    with_unit = "He was the first pope in nearly 600 years to resign as the head of the church."
    bare = "An estimated 65,000 people have visited to pay their respects."
    none = "The Catholic Church conducted a unique ceremony that blended old rites with new ones."
    assert (type_fit(e, with_unit), type_fit(e, bare), type_fit(e, none)) == (1.0, 0.5, 0.0)


def test_a_month_question_wants_a_month_the_question_does_not_hold() -> None:
    e = expected_type("President Biden intends to end the Covid-19 emergencies in which month of this year?")
    assert type_fit(e, "The administration plans to end both the national emergency and public health emergency on May 11.") == 1.0
    assert type_fit(e, "President Biden's decision to end the emergencies raises questions.") == 0.0


def test_a_person_question_wants_a_full_name_the_question_does_not_hold() -> None:
    e = expected_type("Mikaela Shiffrin broke the World Cup record previously held by:")
    assert type_fit(e, "Shiffrin currently shares the women's record of 82 wins with former teammate Lindsey Vonn.") == 1.0
    assert type_fit(e, "Mikaela Shiffrin holds a slim lead after the first run.") == 0.0


def test_a_title_question_wants_a_quoted_title() -> None:
    e = expected_type("Which film scored the most Oscar nominations this week?")
    assert type_fit(e, 'The leader, "Everything Everywhere All at Once," scored 11 nominations.') == 1.0
    assert type_fit(e, "Nominations for the Academy Awards were announced on Tuesday morning.") < 1.0


def test_a_named_persons_words_asked_for_have_no_type() -> None:
    """"What did X say about what his team found?" wants X's words: no sentence is favoured for holding a name."""
    assert asked_type(analyze("What did researcher Andrew Griffiths say about what his team found?")) is None
    assert asked_type(analyze("Which team did Damar Hamlin play for?")) is not None


def test_no_type_no_fit() -> None:
    assert type_fit(None, "Anything at all in Paris in 2023.") == 0.0


ARTICLE = """In-N-Out heads east

The burger chain In-N-Out announced this week that it is expanding.
In-N-Out is expanding with a corporate office and its first restaurants in Tennessee.
The family-owned company has grown slowly since it opened its first drive-thru.
"""


def test_the_sentence_naming_the_asked_place_answers_a_which_state_question(tmp_path, engine_over) -> None:
    """The restating sentences share more words with the question; the one holding a state it does not name
    answers it, and comes first."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "in-n-out.md").write_text(ARTICLE, encoding="utf-8")
    eng = engine_over(corpus)
    eng.index(progress=False)
    ans = eng.ask("Burger chain In-N-Out announced it was expanding to which state?")
    assert not ans.abstained
    assert "Tennessee" in ans.results[0].quote
