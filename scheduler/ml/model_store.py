"""Versioned model files of the learned dispatching policy.

A policy is two files side by side: `<name>.joblib` (the fitted scikit-learn estimator) and
`<name>.json` (metadata: format version, scikit-learn version, feature names, the training
recipe and held-out figures). Loading checks the format version and the feature names (a hard
error on mismatch) and the scikit-learn major.minor version (a warning on mismatch). The
default policy ships as package data in `scheduler/ml/models/`; it is produced by
`orchestrator ml train-policy` (the exact command is in its metadata under "command").
Solving only loads files; it never trains.
"""

from __future__ import annotations

import functools
import json
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from scheduler.ml.features import FEATURE_NAMES
from scheduler.ml.policy_solver import DEFAULT_TEMPERATURE, PolicySet

# 2: the 39 features of features.py (version 1 had the first 30).
FORMAT_VERSION = 2
DEFAULT_MODEL_NAME = f"dispatch_policy_v{FORMAT_VERSION}"
_PACKAGE = "scheduler.ml"
_MODELS_DIR = "models"


class ModelFormatError(ValueError):
    pass


@dataclass
class LoadedPolicy:
    # A fitted estimator, or a dict SGS mode -> fitted estimator.
    model: Any
    metadata: dict[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def policies(self) -> PolicySet:
        # Modes best first by the held-out greedy gap recorded at training time (on all
        # held-out instances, and on the large ones for large problems).
        holdout = self.metadata.get("holdout", {})
        gaps = holdout.get("gap", {})
        large = holdout.get("gap_large", {})
        temperature = float(self.metadata.get("temperature", DEFAULT_TEMPERATURE))
        return PolicySet(
            self.model,
            sorted(gaps, key=gaps.__getitem__),
            temperature,
            sorted(large, key=large.__getitem__),
        )


def _sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def policy_paths(path: Path | str) -> tuple[Path, Path]:
    """(`.joblib`, `.json`) paths for `path` given with either suffix or none."""
    base = Path(path)
    if base.suffix in (".joblib", ".json"):
        base = base.with_suffix("")
    return base.with_suffix(".joblib"), base.with_suffix(".json")


def save_policy(model: Any, path: Path | str, metadata: dict[str, Any]) -> tuple[Path, Path]:
    """Writes `<path>.joblib` and `<path>.json`; returns both paths. `model` is a fitted
    estimator or a dict SGS mode -> fitted estimator."""
    import joblib

    model_path, meta_path = policy_paths(path)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    full = {
        "name": model_path.stem,
        "format_version": FORMAT_VERSION,
        "sklearn_version": _sklearn_version(),
        "feature_names": list(FEATURE_NAMES),
        **metadata,
    }
    joblib.dump(model, model_path, compress=3)
    meta_path.write_text(json.dumps(full, indent=2, sort_keys=False) + "\n")
    return model_path, meta_path


def _check(metadata: dict[str, Any], where: str) -> None:
    if metadata.get("format_version") != FORMAT_VERSION:
        raise ModelFormatError(
            f"{where}: format version {metadata.get('format_version')}, expected {FORMAT_VERSION}"
        )
    if list(metadata.get("feature_names", [])) != list(FEATURE_NAMES):
        raise ModelFormatError(f"{where}: trained on other features than this code computes")
    trained = str(metadata.get("sklearn_version", "?"))
    if _major_minor(trained) != _major_minor(_sklearn_version()):
        warnings.warn(
            f"{where}: trained with scikit-learn {trained}, running {_sklearn_version()}",
            stacklevel=3,
        )


def load_policy(path: Path | str) -> LoadedPolicy:
    model_path, meta_path = policy_paths(path)
    metadata = json.loads(meta_path.read_text())
    _check(metadata, str(meta_path))
    stat = model_path.stat()
    return LoadedPolicy(
        _load_model(str(model_path.resolve()), stat.st_mtime_ns, stat.st_size), metadata
    )


@functools.lru_cache(maxsize=4)
def _load_model(model_file: str, _mtime_ns: int, _size: int) -> Any:
    """Read once per file version, so a solve given a model path does not pay for it each
    time (the metadata is small and always re-read and checked)."""
    import joblib

    return joblib.load(model_file)


def _default_resource(suffix: str) -> Any:
    return resources.files(_PACKAGE).joinpath(_MODELS_DIR, DEFAULT_MODEL_NAME + suffix)


def default_model_available() -> bool:
    try:
        return bool(_default_resource(".joblib").is_file() and _default_resource(".json").is_file())
    except (ModuleNotFoundError, OSError):
        return False


@functools.cache
def default_policy() -> LoadedPolicy:
    """The shipped policy (loaded once per process)."""
    if not default_model_available():
        raise FileNotFoundError(
            f"no default model {DEFAULT_MODEL_NAME} in {_PACKAGE}/{_MODELS_DIR}; "
            "train one with `orchestrator ml train-policy`"
        )
    with resources.as_file(_default_resource(".joblib")) as model_path:
        return load_policy(model_path)
