"""The intent classifier's training data: `agent/training/intents/<intent>.txt` and `agent/training/vocabulary/`.

Training data is written from the intent definitions alone, by someone who has not read the eval scenarios; this
module only reads it. Augmentation happens here, in code, at training time: placeholders filled with generated
names, typo noise, casing and punctuation, so the model sees messages as people type them.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from readiness.seed import vocab

TRAINING_DIR = Path(__file__).resolve().parent.parent / "training"
PLACEHOLDER = re.compile(r"\{(partner|partner2|partner3|customer)\}")
# What a recognised partner mention becomes before classification, in training and at inference alike.
PARTNER_TOKEN = "PARTNER"


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    source: int  # index of the written line it came from (augmented copies share it: CV folds group on it)


def read_lines(path: Path) -> list[str]:
    """Data lines of a training file: the '#' header and blank lines dropped."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def intent_files(root: Path = TRAINING_DIR) -> dict[str, Path]:
    return {p.stem: p for p in sorted((root / "intents").glob("*.txt"))}


def written_examples(root: Path = TRAINING_DIR, intents: set[str] | None = None) -> list[Example]:
    """Every written example, labelled by its file; files of unknown intents are ignored."""
    out: list[Example] = []
    for intent, path in intent_files(root).items():
        if intents is not None and intent not in intents:
            continue
        out += [Example(text=line, intent=intent, source=len(out) + k) for k, line in enumerate(read_lines(path))]
    return out


def load_examples(root: Path = TRAINING_DIR, intents: set[str] | None = None) -> list[Example]:
    """The examples the classifier is trained on: the written ones. Training never reads the eval sets; that no
    written example is the same message as an eval scenario's is guarded by tests/test_training_separation.py (the
    lines that collided when the sets first met were deleted from the files, not rewritten)."""
    return written_examples(root, intents)


def vocabulary_files(root: Path = TRAINING_DIR) -> list[Path]:
    return sorted(p for p in (root / "vocabulary").glob("*") if p.is_file())


@cache
def _vocabulary(root: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in vocabulary_files(root):
        if path.suffix in {".yaml", ".yml"}:
            out[path.stem] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        else:
            out[path.stem] = read_lines(path)
    return out


def vocabulary(name: str, root: Path = TRAINING_DIR) -> Any:
    """A vocabulary file by stem (`domain_terms`, `not_partner_names`, `gap_phrases`); empty when absent."""
    return _vocabulary(root).get(name, {} if name.endswith("phrases") else [])


def vocabulary_lines(root: Path = TRAINING_DIR) -> list[str]:
    """Every phrase of every vocabulary file, flattened (for the train/test separation check)."""
    lines: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif node is not None:
            lines.append(str(node))

    for value in _vocabulary(root).values():
        walk(value)
    return lines


def data_hash(root: Path = TRAINING_DIR, extra: str = "") -> str:
    """Changes whenever any training or vocabulary file or `extra` (code and library versions) changes."""
    h = hashlib.sha256(extra.encode())
    for path in [*intent_files(root).values(), *vocabulary_files(root)]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:20]


# ---------- augmentation ----------


def company_name(rng: random.Random) -> str:
    first = rng.choice(vocab.NAME_WORDS)
    if rng.random() < 0.25:
        first += rng.choice(vocab.SECOND_WORDS).lower()
    return f"{first} {rng.choice(vocab.NAME_SUFFIXES)}" if rng.random() < 0.85 else first


def customer_name(rng: random.Random) -> str:
    industry = rng.choice(vocab.INDUSTRIES).title()
    return f"{rng.choice(vocab.NAME_WORDS)} {industry} {rng.choice(vocab.ACCOUNT_SUFFIXES)}" if rng.random() < 0.5 \
        else f"{rng.choice(vocab.NAME_WORDS)} {rng.choice(vocab.ACCOUNT_SUFFIXES)}"


def fill(text: str, rng: random.Random, mask_partners: bool) -> str:
    """Placeholders replaced: partners by the mask token (as inference does once a name is recognised) or by a
    generated company name (as when it is not), customers by a generated account name."""

    def sub(m: re.Match[str]) -> str:
        if m.group(1) == "customer":
            return customer_name(rng)
        return PARTNER_TOKEN if mask_partners else company_name(rng)

    return PLACEHOLDER.sub(sub, text)


_KEYBOARD = {
    "a": "sqwz", "b": "vghn", "c": "xdfv", "d": "serfcx", "e": "wsdr", "f": "drtgvc", "g": "ftyhbv", "h": "gyujnb",
    "i": "ujko", "j": "huikmn", "k": "jiolm", "l": "kop", "m": "njk", "n": "bhjm", "o": "iklp", "p": "ol",
    "q": "wa", "r": "edft", "s": "awedxz", "t": "rfgy", "u": "yhji", "v": "cfgb", "w": "qase", "x": "zsdc",
    "y": "tghu", "z": "asx",
}


def typo(word: str, rng: random.Random) -> str:
    """One slip of the fingers: a swap, a drop, a doubled letter or a neighbouring key."""
    if len(word) < 4 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    if kind == 2:
        return word[:i] + word[i] + word[i:]
    near = _KEYBOARD.get(word[i].lower())
    return word[:i] + (rng.choice(near) if near else word[i]) + word[i + 1 :]


def noisy(text: str, rng: random.Random) -> str:
    """Typos in about one word in six, casing and punctuation as people type on a phone or in a hurry."""
    words = text.split(" ")
    words = [typo(w, rng) if rng.random() < 0.17 and w != PARTNER_TOKEN else w for w in words]
    out = " ".join(words)
    r = rng.random()
    if r < 0.35:
        out = out.lower()
    elif r < 0.45:
        out = out.upper() if len(out) < 40 else out
    elif r < 0.6:
        out = out[:1].upper() + out[1:]
    p = rng.random()
    if p < 0.3:
        out = out.rstrip("?.!")
    elif p < 0.4:
        out = out.rstrip("?.!") + "??"
    return out


def augment(examples: list[Example], copies: int = 2, seed: int = 13) -> list[Example]:
    """The written examples (partners masked) plus `copies` noisy variants each (names unmasked in one of them)."""
    rng = random.Random(seed)
    out: list[Example] = []
    for ex in examples:
        out.append(Example(text=fill(ex.text, rng, mask_partners=True), intent=ex.intent, source=ex.source))
        for k in range(copies):
            # Noisy copies carry real-looking names first: at inference a misspelt name may go unrecognised.
            text = noisy(fill(ex.text, rng, mask_partners=k % 2 == 1), rng)
            out.append(Example(text=text, intent=ex.intent, source=ex.source))
    return out
