"""The examples a researcher runs first: each script runs as a user would run it, on a small budget."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import nudge_serve

from nudge.loop.store.store import Store

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str, cwd: Path, **env) -> str:
    environment = {**os.environ, "BUDGET": "8", "SEEDS": "0", "OMP_NUM_THREADS": "1", **env}
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_custom_network_example_trains_and_resumes_also_in_nudge_serve(tmp_path, monkeypatch):
    first = run_example("custom_network.py", tmp_path)
    assert "ResidualMLP: 8 labels" in first and (tmp_path / "examples.db").exists()
    again = run_example("custom_network.py", tmp_path, BUDGET="10")
    assert "resumed: 8 labels" in again and "ResidualMLP: 10 labels" in again
    stored = Store(tmp_path / "examples.db").session_config("my-net")
    assert stored["estimator"]["module"] == {"$ref": "networks:ResidualMLP"}
    monkeypatch.setenv("PYTHONPATH", str(EXAMPLES))  # as the example's docstring says
    with nudge_serve(tmp_path / "examples.db", "--session", "my-net") as server:
        assert "resuming session 'my-net' (10 answers so far)" in server.output()


def test_custom_strategy_example_compares_four_strategies(tmp_path):
    printed = run_example("custom_strategy.py", tmp_path)
    for strategy in ("near_boundary_far_from_labels", "margin_sampling", "boundary", "random"):
        line = next(line for line in printed.splitlines() if line.startswith(strategy + " "))
        assert 0.0 <= float(line.split(":")[-1].split()[0]) <= 1.0


def test_learning_curve_example_writes_one_row_per_model(tmp_path):
    printed = run_example("learning_curve.py", tmp_path)
    rows = (tmp_path / "learning_curve.csv").read_text().splitlines()
    assert rows[0] == "labels,directions,accuracy"
    assert [int(row.split(",")[0]) for row in rows[1:]] == list(range(1, 9))
    assert "wrote learning_curve.csv" in printed


SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py") if 'if __name__ == "__main__":' in p.read_text())  # networks.py is a module


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_example_has_a_docstring_saying_how_to_run_it(name):
    source = (EXAMPLES / name).read_text()
    assert source.startswith('"""') and f"examples/{name}" in source.split('"""')[1]
