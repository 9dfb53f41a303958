"""The trained intent classifier: logistic regression over MiniLM sentence embeddings plus character and word n-gram
TF-IDF, with temperature-scaled (calibrated) probabilities.

Fitted from `agent/training/` (augmented in code, see `training.py`), cached under PARTNERPILOT_HOME keyed by a hash
of the training data, the code's feature version and the library versions, so a process start loads it in well under
a second and a change to the data retrains it. Cross-validation groups augmented copies with the line they came
from, so no fold tests on a sibling of what it trained on.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import scipy.sparse as sp
import sklearn
from scipy.optimize import minimize_scalar
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, GroupShuffleSplit

from agent.planner import training
from agent.planner.spelling import get_speller

log = logging.getLogger(__name__)

# Bump when features or augmentation change: the cache key includes it.
FEATURE_VERSION = "5"
# The dense block against the two L2-normalised TF-IDF blocks. Cross-validated: 0.8, 1.5 and 2.5 and C from 3 to 20
# all land within 0.01; adding each intent definition's similarity as features did not help (0.882 vs 0.885).
EMBEDDING_WEIGHT = 1.5
AUGMENT_COPIES = 1  # cross-validated: 1, 2 and 3 noisy copies score within 0.01 of each other; 1 fits fastest
C = 8.0
FOLDS = 5


def prepare(text: str) -> str:
    """What the model reads: spelling repaired, lower case, one space between words."""
    return " ".join(get_speller().repair(text).split())


def _embed(texts: list[str]) -> np.ndarray:
    from knowledge.embeddings import get_embedder

    return get_embedder().embed(texts)


@dataclass
class Features:
    char: TfidfVectorizer
    word: TfidfVectorizer

    @classmethod
    def fit(cls, texts: list[str]) -> Features:
        char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)
        word = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), min_df=1, sublinear_tf=True,
                               token_pattern=r"(?u)\b\w+\b")
        char.fit(texts)
        word.fit(texts)
        return cls(char=char, word=word)

    def transform(self, texts: list[str], embeddings: np.ndarray) -> sp.csr_matrix:
        return sp.hstack([self.char.transform(texts), self.word.transform(texts),
                          sp.csr_matrix(embeddings * EMBEDDING_WEIGHT)]).tocsr()


def _logreg() -> LogisticRegression:
    return LogisticRegression(C=C, max_iter=3000, class_weight="balanced")


def _softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    z = logits / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, labels: np.ndarray, classes: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of held-out predictions (Guo et al., 2017)."""
    target = np.searchsorted(classes, labels)

    def nll(t: float) -> float:
        p = _softmax(logits, t)[np.arange(len(target)), target]
        return float(-np.log(np.clip(p, 1e-12, None)).mean())

    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)


@dataclass
class CalibratedLogReg:
    """Logistic regression whose probabilities are temperature-scaled on a held-out group split, then refitted on
    everything (the temperature carries over: it corrects the model family's over-confidence, not one fit's)."""

    estimator: LogisticRegression
    temperature: float

    @property
    def classes_(self) -> np.ndarray:
        return self.estimator.classes_

    @classmethod
    def fit(cls, x: sp.csr_matrix, labels: np.ndarray, groups: np.ndarray) -> CalibratedLogReg:
        train, held = next(GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=7).split(x, labels, groups))
        first = _logreg().fit(x[train], labels[train])
        temperature = fit_temperature(first.decision_function(x[held]), labels[held], first.classes_)
        return cls(estimator=_logreg().fit(x, labels), temperature=temperature)

    def predict_proba(self, x: sp.csr_matrix) -> np.ndarray:
        return _softmax(self.estimator.decision_function(x), self.temperature)


# A statement this close (mean cosine to a dimension's three nearest vocabulary phrases) is evidence of it.
TOPIC_SIMILARITY = 0.4


@dataclass
class IntentModel:
    classes: list[str]
    features: Features
    model: CalibratedLogReg
    data_hash: str
    examples: int
    # The gap and dimension phrases of the vocabulary, embedded: (dimension, gap or None) per row.
    topic_keys: list[tuple[str, str | None]]
    topic_vectors: np.ndarray

    def nearest_dimension(self, text: str) -> str | None:
        """The readiness dimension whose vocabulary phrases mean the closest thing to `text` (mean of its three
        nearest phrases), when close enough: what a progress statement in words the vocabulary does not list
        ("three people certified now") is evidence of."""
        if not len(self.topic_keys):
            return None
        sims = self.topic_vectors @ _embed([prepare(text)])[0]
        by_dimension: dict[str, list[float]] = {}
        for (dimension, _gap), sim in zip(self.topic_keys, sims.tolist(), strict=True):
            by_dimension.setdefault(dimension, []).append(sim)
        scored = {k: float(np.mean(sorted(v)[-3:])) for k, v in by_dimension.items()}
        best = max(scored, key=lambda k: scored[k])
        return best if scored[best] >= TOPIC_SIMILARITY else None

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """Calibrated probabilities, one row per text, columns in `classes` order. Texts are raw messages with
        partner mentions already masked; spelling is repaired here."""
        prepared = [prepare(t) for t in texts]
        return np.asarray(self.model.predict_proba(self.features.transform(prepared, _embed(prepared))))


def _prepared_training(root: Path, intents: set[str]) -> tuple[list[training.Example], list[str], np.ndarray]:
    examples = training.augment(training.load_examples(root, intents), copies=AUGMENT_COPIES)
    texts = [prepare(e.text) for e in examples]
    return examples, texts, _embed(texts)


def fit(root: Path, intents: set[str], data_hash: str) -> IntentModel:
    started = time.perf_counter()
    examples, texts, vectors = _prepared_training(root, intents)
    if not examples:
        raise RuntimeError(f"no intent training examples under {root / 'intents'}")
    labels = np.array([e.intent for e in examples])
    groups = np.array([e.source for e in examples])
    features = Features.fit(texts)
    model = CalibratedLogReg.fit(features.transform(texts, vectors), labels, groups)
    keys, phrases = _topic_phrases(root)
    log.info("intent model fitted on %d examples in %.1f s", len(examples), time.perf_counter() - started)
    return IntentModel(classes=[str(c) for c in model.classes_], features=features, model=model,
                       data_hash=data_hash, examples=len(examples), topic_keys=keys,
                       topic_vectors=_embed([prepare(p) for p in phrases]) if phrases else np.zeros((0, 384)))


def _topic_phrases(root: Path) -> tuple[list[tuple[str, str | None]], list[str]]:
    from agent.planner.entities import GAP_TO_DIMENSION

    data = training.vocabulary("gap_phrases", root)
    keys: list[tuple[str, str | None]] = []
    phrases: list[str] = []
    for gap, items in (data.get("gaps") or {}).items():
        for phrase in items or []:
            keys.append((GAP_TO_DIMENSION.get(gap, gap), gap))
            phrases.append(str(phrase))
    for dimension, items in (data.get("dimensions") or {}).items():
        for phrase in items or []:
            keys.append((dimension, None))
            phrases.append(str(phrase))
    return keys, phrases


@dataclass
class CrossValidation:
    folds: int
    examples: int  # written lines
    accuracy: float  # on the held-out lines as written (partners masked)
    noisy_accuracy: float  # on their augmented variants (typos, unmasked names, casing)
    macro_f1: float
    per_intent: dict[str, float]
    confusions: list[tuple[str, str, int]]  # (true, predicted, count), most frequent first
    ece: float  # expected calibration error of the max probability, 10 bins
    seconds: float


def cross_validate(root: Path = training.TRAINING_DIR, intents: set[str] | None = None,
                   folds: int = FOLDS) -> CrossValidation:
    """Grouped k-fold: each written line and its augmented copies are held out together."""
    from collections import Counter

    from sklearn.metrics import f1_score

    started = time.perf_counter()
    wanted = intents or set(training.intent_files(root))
    examples, texts, vectors = _prepared_training(root, wanted)
    labels = np.array([e.intent for e in examples])
    groups = np.array([e.source for e in examples])
    # The first copy of each line is the line as written (see training.augment).
    first = np.array([k == 0 or examples[k - 1].source != e.source for k, e in enumerate(examples)])
    classes = np.array(sorted(set(labels)))
    logits = np.zeros((len(examples), len(classes)))
    for train_idx, test_idx in GroupKFold(n_splits=folds).split(texts, labels, groups):
        feats = Features.fit([texts[i] for i in train_idx])
        model = _logreg().fit(feats.transform([texts[i] for i in train_idx], vectors[train_idx]), labels[train_idx])
        cols = np.searchsorted(classes, model.classes_)
        logits[np.ix_(test_idx, cols)] = model.decision_function(
            feats.transform([texts[i] for i in test_idx], vectors[test_idx]))
    # One temperature for all out-of-fold predictions: how well calibrated the shipped model's probabilities are.
    proba = _softmax(logits, fit_temperature(logits, labels, classes))
    predicted = classes[proba.argmax(axis=1)]
    confidence = proba.max(axis=1)
    correct = predicted == labels
    per_intent = {str(i): round(float(correct[first & (labels == i)].mean()), 3) for i in sorted(set(labels))}
    confusions = Counter((str(t), str(p)) for t, p, f in zip(labels, predicted, first, strict=True) if f and t != p)
    bins = np.minimum((confidence * 10).astype(int), 9)
    ece = sum(abs(correct[bins == b].mean() - confidence[bins == b].mean()) * (bins == b).mean()
              for b in range(10) if (bins == b).any())
    return CrossValidation(
        folds=folds, examples=int(first.sum()), accuracy=round(float(correct[first].mean()), 4),
        noisy_accuracy=round(float(correct[~first].mean()), 4),
        macro_f1=round(float(f1_score(labels[first], predicted[first].astype(str), average="macro")), 4),
        per_intent=per_intent, confusions=[(t, p, n) for (t, p), n in confusions.most_common(15)],
        ece=round(float(ece), 4), seconds=round(time.perf_counter() - started, 1),
    )


# ---------- the cached model ----------


def cache_key(root: Path = training.TRAINING_DIR) -> str:
    """The training data, the code that prepares and fits, and the libraries."""
    here = Path(__file__).resolve().parent
    code = "".join((here / f).read_text(encoding="utf-8") for f in ("classifier.py", "training.py", "spelling.py"))
    code_hash = hashlib.sha256(code.encode()).hexdigest()[:12]
    return training.data_hash(root, extra=f"{FEATURE_VERSION}|{code_hash}|{sklearn.__version__}|{np.__version__}")


def _cache_dir() -> Path:
    from readiness.settings import get_settings

    settings = get_settings()
    return settings.models_dir or settings.home / "models"


def model_is_cached() -> bool:
    return (_cache_dir() / f"intents-{cache_key()}.joblib").exists()


def load_or_fit(intents: set[str], root: Path = training.TRAINING_DIR) -> IntentModel:
    """The fitted model for the current training data: from the cache when its key matches, else fitted and
    cached. A file lock keeps parallel processes (test workers, server replicas) from fitting it twice."""
    key = cache_key(root)
    directory = _cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"intents-{key}.joblib"
    with (directory / "intents.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if path.exists():
                try:
                    model: IntentModel = joblib.load(path)
                    if model.data_hash == key and set(model.classes) == intents & set(training.intent_files(root)):
                        return model
                except Exception as exc:  # a truncated or incompatible file: refit and overwrite it
                    log.warning("intent model cache %s unreadable (%s); refitting", path, exc)
            model = fit(root, intents, key)
            tmp = path.with_suffix(".tmp")
            joblib.dump(model, tmp)
            tmp.replace(path)
            for old in directory.glob("intents-*.joblib"):
                if old != path:
                    old.unlink(missing_ok=True)
            return model
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


_model: IntentModel | None = None
_model_lock = threading.Lock()


def get_model() -> IntentModel:
    """The process-wide model (loaded or fitted on first use)."""
    global _model
    with _model_lock:
        if _model is None:
            from agent.planner import assets

            _model = load_or_fit(set(assets.intents()))
        return _model


def warm_up() -> None:
    """Load the model, the speller and the embedder now (server start-up does it off the request path)."""
    get_model().predict_proba(["hello"])
