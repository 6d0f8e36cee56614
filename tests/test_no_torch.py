"""The runtime imports and infers with PyTorch unavailable."""

import subprocess
import sys

SCRIPT = """
import sys
sys.modules["torch"] = None  # any `import torch` now raises ImportError
import numpy as np
import ens2rt
res = ens2rt.infer(np.random.default_rng(0).normal(0, 0.1, (2, 900)), 30.0)
assert res.rate.shape == (2, 1800)
assert "torch" not in [m for m, v in sys.modules.items() if v is not None]
print("ok")
"""


def test_runtime_runs_without_torch():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
