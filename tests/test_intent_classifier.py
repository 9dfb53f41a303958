"""The trained intent classifier: fitted from training files, calibrated, cached by a hash of its data, measured by
grouped cross-validation. On a small made-up training set so the test fits in seconds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from agent.planner import classifier, training

LINES = {
    "weather": ["is it going to rain", "how hot is it outside", "will it snow tomorrow", "what's the forecast",
                "is it sunny today", "do I need an umbrella", "how cold will it get tonight", "any storms coming",
                "what's the temperature", "is it windy out", "will it be dry on friday", "how humid is it"],
    "food": ["what should I cook tonight", "give me a pasta recipe", "how do I bake bread", "what goes with salmon",
             "quick lunch ideas", "how long to boil an egg", "is rice or pasta healthier", "a soup for a cold day",
             "what can I make with eggs", "vegetarian dinner ideas", "how do I roast vegetables", "best pizza dough"],
    "music": ["play something relaxing", "who sang this song", "recommend an album", "what's a good jazz record",
              "songs for running", "how do I learn guitar", "what's trending in pop", "a playlist for studying",
              "who wrote this symphony", "best concerts this year", "what key is this song in", "is vinyl better"],
}


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "training"
    (root / "intents").mkdir(parents=True)
    (root / "vocabulary").mkdir()
    for intent, lines in LINES.items():
        (root / "intents" / f"{intent}.txt").write_text(f"# {intent}\n" + "\n".join(lines) + "\n")
    monkeypatch.setenv("PARTNERPILOT_MODELS_DIR", str(tmp_path / "models"))
    from readiness.settings import get_settings

    get_settings.cache_clear()
    yield root
    get_settings.cache_clear()


def test_fitted_once_then_loaded_from_the_cache_until_the_data_changes(tiny: Path) -> None:
    first = classifier.load_or_fit(set(LINES), tiny)
    cached = list((tiny.parent / "models").glob("intents-*.joblib"))
    assert len(cached) == 1 and first.data_hash in cached[0].name
    stamp = cached[0].stat().st_mtime_ns
    again = classifier.load_or_fit(set(LINES), tiny)
    assert again.data_hash == first.data_hash and cached[0].stat().st_mtime_ns == stamp, "loaded, not refitted"
    with (tiny / "intents" / "food.txt").open("a") as fh:
        fh.write("how do I make pancakes\n")
    changed = classifier.load_or_fit(set(LINES), tiny)
    assert changed.data_hash != first.data_hash
    left = [p.name for p in (tiny.parent / "models").glob("intents-*.joblib")]
    assert left == [f"intents-{changed.data_hash}.joblib"], "the stale model is removed"


def test_probabilities_are_calibrated_and_follow_the_meaning(tiny: Path) -> None:
    model = classifier.load_or_fit(set(LINES), tiny)
    assert model.model.temperature > 0
    proba = model.predict_proba(["will it raaain this weekend", "dinner recipe with chicken", "a song to dance to"])
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert [model.classes[i] for i in proba.argmax(axis=1)] == ["weather", "food", "music"]


def test_grouped_cross_validation_reports_held_out_accuracy(tiny: Path) -> None:
    result = classifier.cross_validate(tiny, set(LINES), folds=3)
    assert result.examples == sum(len(v) for v in LINES.values())
    assert 0.6 <= result.accuracy <= 1.0 and set(result.per_intent) == set(LINES)
    assert 0.0 <= result.ece <= 1.0


def test_augmentation_keeps_each_line_and_adds_noisy_copies() -> None:
    examples = [training.Example(text="how is {partner} doing with {customer}", intent="score", source=0)]
    out = training.augment(examples, copies=1, seed=1)
    assert out[0].text == f"how is {training.PARTNER_TOKEN} doing with " + out[0].text.split(" with ", 1)[1]
    assert len(out) == 2 and {e.source for e in out} == {0} and "{" not in out[1].text
