"""The SQuAD v1.1 metric's known edge cases, as the official script scores them."""

import pytest

from gateway.perf.squad_metric import exact_match, f1, normalize_answer, score


def test_normalisation_lowercases_and_strips_punctuation():
    assert normalize_answer("Robert Stevenson!") == "robert stevenson"


def test_normalisation_drops_articles_as_whole_words_only():
    assert normalize_answer("The theory of an anthem") == "theory of anthem"


def test_normalisation_collapses_white_space():
    assert normalize_answer("  Black \n\t Sea ") == "black sea"


def test_articles_removed_after_punctuation_so_joined_article_survives():
    # "the-end" loses its hyphen first, becoming "theend": not an article.
    assert normalize_answer("the-end") == "theend"


def test_exact_match_ignores_articles_and_case():
    assert exact_match("the Volga", "Volga") == 1.0


def test_exact_match_is_zero_for_a_longer_span():
    assert exact_match("about 2,850 kilometres long", "about 2,850 kilometres") == 0.0


def test_numbers_lose_their_commas_in_both_prediction_and_truth():
    assert exact_match("2850", "2,850") == 1.0


def test_f1_gives_partial_credit_for_overlap():
    # predicted tokens: robert, stevenson, engineer; truth: robert, stevenson
    assert f1("the engineer Robert Stevenson", "Robert Stevenson") == pytest.approx(0.8)


def test_f1_counts_repeated_tokens_at_most_as_often_as_in_truth():
    assert f1("wax wax wax", "wax") == pytest.approx(0.5)


def test_f1_is_zero_without_overlap():
    assert f1("Danube", "Volga") == 0.0


def test_f1_is_zero_when_prediction_normalises_to_nothing():
    assert f1("the", "Volga") == 0.0


def test_score_takes_the_best_gold_answer():
    assert score("Black Sea", ["the Black Sea", "Black Sea coast"]) == {"exact_match": 1.0, "f1": 1.0}


def test_score_refuses_a_question_without_answers():
    with pytest.raises(ValueError, match="at least one gold answer"):
        score("anything", [])
