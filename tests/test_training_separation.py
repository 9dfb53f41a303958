"""Training data and test data never meet (issue 13, item 1).

Every user message of every scenario (the own suite, adversarial included, and the frozen blind set) is compared, after
normalising case, punctuation and partner and customer names, with every example the intent classifier is trained on
and every vocabulary line. The definition of "the same message" lives in agent.planner.separation.
"""

from __future__ import annotations

import re

import pytest

from agent.planner import separation, training
from agent.planner.separation import EvalMessage, collisions


def test_no_eval_message_is_trained_on_or_in_a_vocabulary() -> None:
    messages = separation.eval_messages()
    assert len(messages) > 300, "the own suite and the blind set are both read"
    assert any("blind" in m.source for m in messages) and any("scenarios" in m.source for m in messages)
    trained = training.load_examples()
    assert len(trained) > 1000
    clashes = collisions((e.text, e.intent) for e in trained)
    assert not clashes, "\n".join(f"{c.source}: {c.how} with an example of {c.origin}" for c in clashes[:20])
    vocabulary = collisions([], vocabulary=training.vocabulary_lines())
    assert not vocabulary, "\n".join(f"{c.source}: equals a vocabulary line" for c in vocabulary[:20])


def test_training_reads_no_eval_file() -> None:
    """The fit depends on the training files only: a deployment without evals/ trains the same model."""
    import inspect

    from agent.planner import classifier

    for module in (training, classifier):
        source = inspect.getsource(module)
        assert "planner.separation import" not in source and '"evals"' not in source, module.__name__


def _one(message: str, example: str) -> list[str]:
    return [c.how for c in collisions([(example, "x")], messages=[EvalMessage(text=message, source="t")])]


@pytest.mark.parametrize(("message", "example", "how"), [
    ("What's Bluefin Technologies' readiness score?", "what's {partner}'s readiness score", "equal"),
    ("Which dormant partners should I call this WEEK??", "which dormant partners should i call this week", "equal"),
    ("which dormant partners should I ring this week", "which dormant partners should I call this week", "token_set"),
    ("sorry for the long message, our CEO is asking again, anyway we finally registered our first sourced deal "
     "yesterday with a logistics firm", "we finally registered our first sourced deal", "span"),
])
def test_copies_and_near_copies_are_caught(message: str, example: str, how: str) -> None:
    assert how in _one(message, example)


@pytest.mark.parametrize(("message", "example"), [
    ("can you tell me what our plan looks like", "can you tell me what the weather is"),  # shared grammar only
    ("what's my score and what should I fix first on the ICP side", "what's my score"),  # a stock phrase inside
    ("thanks", "thanks"),  # two-word replies prove nothing
])
def test_grammar_and_stock_phrases_are_not_copies(message: str, example: str) -> None:
    assert _one(message, example) == []


def test_spelling_repair_knows_no_typo_of_the_eval_messages() -> None:
    """Spelling repair uses the package's English list plus the training vocabulary and the intent definitions;
    a misspelling that appears in an eval message is never one of its known words."""
    from agent.planner.spelling import english_words, get_speller

    speller = get_speller()
    tokens = {w.lower() for m in separation.eval_messages() for w in re.findall(r"[A-Za-z]+", m.text)}
    repaired = {w for w in tokens if len(w) >= 4 and w not in english_words() and speller.repair_word(w) != w}
    assert repaired, "the eval messages contain typos the speller repairs"
    assert not repaired & speller.known
    assert speller.repair("whats my readyness scroe") == "whats my readiness score"
    assert speller.repair("deals over 50k in EMEA") == "deals over 50k in emea", "acronyms in capitals stay"
