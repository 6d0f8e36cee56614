"""The runtime imports and infers with PyTorch unavailable."""

import subprocess
import sys

SCRIPT = """
import importlib.abc
import sys


class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "torch":
            raise ImportError("torch is blocked in this test")


sys.meta_path.insert(0, NoTorch())
import numpy as np
import ens2rt
res = ens2rt.infer(np.random.default_rng(0).normal(0, 0.1, (2, 900)), 30.0)
assert res.rate.shape == (2, 1800)
from ens2rt import scoring  # the scores the demo prints
from ens2export import groundtruth  # the ground-truth loader: numpy and scipy only
assert not any(m.split(".")[0] == "torch" for m in sys.modules)
print("ok")
"""


def test_runtime_runs_without_torch():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
