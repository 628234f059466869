"""What a β sweep trains, and where that is kept: `sweep-config.json` in the sweep folder,
one run folder `beta-<β>/` per β, or `beta-<β>-seed-<s>/` per β and seed when it has seeds.

Apart from the sweep itself, so that the code that trains its runs (in this process or
in worker processes) and the code that orchestrates them both build on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from latentexplorer.config import RunConfig
from latentexplorer.errors import ConfigError, UserError
from latentexplorer.fileio import atomic_write_text

SWEEP_CONFIG_FILE = "sweep-config.json"
SWEEP_FORMAT = 1


def run_name(beta: float, seed: int | None = None) -> str:
    """The folder name of β's run (with `seed`: of that seed's run) inside the sweep folder."""
    return f"beta-{float(beta):g}" if seed is None else f"beta-{float(beta):g}-seed-{int(seed)}"


@dataclass(frozen=True)
class SweepConfig:
    """What a sweep trains: the shared run configuration, the βs, and how to run and score it.

    `seeds`: each β is trained once per seed (the training seed: initialisation, batch order
    and sampling; the data split and the scored items stay the same), so every figure gets a
    mean and an interval over seeds. None: one run per β with the run's own seed."""

    run: RunConfig
    betas: tuple[float, ...]
    jobs: int = 1
    eval_items: int = 2000
    eval_k: int = 10
    seeds: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        if self.seeds is not None:
            object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
            if not self.seeds or len(set(self.seeds)) != len(self.seeds) or min(self.seeds) < 0:
                raise ConfigError("--seeds takes distinct seeds >= 0, e.g. --seeds 0 1 2")
        if not self.betas:
            raise ConfigError("a sweep needs at least one β (e.g. --beta 1 2 4 8)")
        if min(self.betas) < 0:
            raise ConfigError(f"β must be >= 0, got {min(self.betas):g}")
        names = [run_name(b) for b in self.betas]
        if len(set(names)) != len(names):
            raise ConfigError(f"each β must be given once, got {' '.join(f'{b:g}' for b in self.betas)}")
        if not self.run.model.is_variational:
            raise ConfigError("a β sweep needs a VAE (--model vae or betavae): an autoencoder has no KL term")
        if self.jobs < 1:
            raise ConfigError(f"--jobs must be at least 1, got {self.jobs}")
        if self.eval_items < 1 or self.eval_k < 1:
            raise ConfigError("the evaluation needs at least one item and one importance sample")

    def runs(self) -> list[tuple[float, int | None]]:
        """(β, seed) of every run, β by β; the seed is None in a sweep without seeds."""
        return [(b, s) for b in self.betas for s in (self.seeds or (None,))]

    def run_config(self, beta: float, seed: int | None = None) -> RunConfig:
        """The configuration of β's run (of `seed`'s): the shared one with that β, the seed and
        the run's name."""
        train = self.run.train if seed is None else replace(self.run.train, seed=int(seed))
        return replace(self.run, model=replace(self.run.model, beta=float(beta)), train=train,
                       name=run_name(beta, seed))

    def to_json(self) -> str:
        return json.dumps({
            "format_version": SWEEP_FORMAT, "betas": list(self.betas), "jobs": self.jobs,
            "eval_items": self.eval_items, "eval_k": self.eval_k, "run": self.run.to_dict(),
            **({} if self.seeds is None else {"seeds": list(self.seeds)}),
        }, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> SweepConfig:
        try:
            raw = json.loads(text)
            return cls(
                run=RunConfig.from_dict(raw["run"]), betas=tuple(raw["betas"]), jobs=int(raw["jobs"]),
                eval_items=int(raw["eval_items"]), eval_k=int(raw["eval_k"]),
                seeds=None if raw.get("seeds") is None else tuple(raw["seeds"]),
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{SWEEP_CONFIG_FILE} is not a readable sweep configuration ({exc})") from None


def read_sweep_config(out: str | Path) -> SweepConfig | None:
    """The sweep saved in folder `out`, or None when it holds none yet."""
    path = Path(out) / SWEEP_CONFIG_FILE
    if not path.is_file():
        return None
    return SweepConfig.from_json(path.read_text(encoding="utf-8"))


def save_sweep_config(out: str | Path, config: SweepConfig) -> None:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / SWEEP_CONFIG_FILE, config.to_json())
