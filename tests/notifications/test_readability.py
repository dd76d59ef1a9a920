import pytest

from notifications.readability import reading_ease

PLAIN_EN = "We lost some of your data. We are sorry. Please change your password today."
HARD_EN = (
    "Notwithstanding the aforementioned considerations, the organisation's comprehensive "
    "investigation determined that unauthorised exfiltration of authentication credentials "
    "materially occurred."
)


def test_plain_english_scores_easier_than_legalese():
    plain, hard = reading_ease(PLAIN_EN, "en"), reading_ease(HARD_EN, "en")
    assert plain is not None and hard is not None
    assert plain.score > 70 > 30 > hard.score
    assert (plain.band, hard.band) == ("easy", "very difficult")
    assert (plain.words, plain.sentences) == (14, 3)


@pytest.mark.parametrize(
    ("language", "formula"),
    [("de-AT", "Flesch-Amstad"), ("fr", "Kandel-Moles"), ("es", "Fernández Huerta")],
)
def test_each_language_gets_its_own_formula(language, formula):
    result = reading_ease("Ein kurzer Satz. Noch einer.", language)
    assert result is not None and result.formula == formula


def test_a_language_without_a_formula_has_no_score():
    assert reading_ease("Hallo", "ja") is None
    assert reading_ease("   ", "en") is None
