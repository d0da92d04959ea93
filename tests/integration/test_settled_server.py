"""A serving process moves what starting it made out of the garbage collector's sight before the first request, so
a full collection walks what requests made, not the modules, the app and its templates (a pause of 60-160 ms
for the requests in flight, every few thousand requests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json
from riverchief.asgi import create
app = create()
gc.collect()
print(json.dumps({"frozen": gc.get_freeze_count(), "walked": len(gc.get_objects()), "app": type(app).__name__}))
"""


def test_a_worker_app_is_settled_before_it_serves(tmp_path: Path) -> None:
    env = {**os.environ, "RIVERCHIEF_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("RIVERCHIEF_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["app"] == "FastAPI"
    assert found["frozen"] > 50_000  # the imports, the app, its routes and templates
    assert found["walked"] < found["frozen"] / 10  # what a full collection still walks
