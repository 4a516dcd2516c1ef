"""Prints a stage's parameter_overrides from samconfig.toml, so that `make deploy PARAMS=...`
adds to them (sam deploy's --parameter-overrides replaces the configured ones, not merges).

    python3 dev/stage_params.py prod
"""

from __future__ import annotations

import pathlib
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def overrides(stage: str) -> str:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    if stage not in config:
        stages = sorted(k for k in config if k not in ("version", "default"))
        raise SystemExit(f"no stage {stage!r} in samconfig.toml (stages: {', '.join(stages)})")
    return config[stage]["deploy"]["parameters"].get("parameter_overrides", "")


if __name__ == "__main__":
    print(overrides(sys.argv[1]))
