"""Helpers that put fake plugin distributions on sys.path for the plugin-system tests."""

from __future__ import annotations

from pathlib import Path


def make_fake_distribution(root: Path, dist: str, version: str, entry_points: dict[str, str],
                           modules: dict[str, str]) -> Path:
    """Write ``<dist>-<version>.dist-info`` plus modules under ``root`` (a sys.path entry)."""
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    eps = "[gantrans]\n" + "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(eps)
    for module, source in modules.items():
        (root / f"{module}.py").write_text(source)
    return root
