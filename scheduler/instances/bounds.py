"""Best known bounds per instance (the `bounds.json` files of the public benchmark sets)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class KnownBound:
    instance: str
    lower: float
    upper: float
    closed: bool
    # Reference solver results published beside the bounds (e.g. CP-SAT 9.15, 600 s).
    reference: dict[str, dict[str, float]]

    def gap(self, value: float) -> float:
        """Relative gap of `value` to the best known upper bound."""
        return (value - self.upper) / self.upper if self.upper else 0.0


def load_bounds(path: Path | str) -> dict[str, KnownBound]:
    rows = json.loads(Path(path).read_text())
    out: dict[str, KnownBound] = {}
    for row in rows:
        reference = {k: v for k, v in row.items() if isinstance(v, dict)}
        out[row["instance"]] = KnownBound(
            instance=row["instance"],
            lower=float(row["lower_bound"]),
            upper=float(row["upper_bound"]),
            closed=row.get("status") == "closed",
            reference=reference,
        )
    return out
