"""ens2rt: fast ENS² spike inference from calcium imaging on onnxruntime, without PyTorch.

>>> import ens2rt
>>> res = ens2rt.infer(dff, frame_rate=30.0)   # dff: (n_neurons, n_frames) ΔF/F
>>> res.rate, res.time, res.spike_times
"""

from ens2rt import example
from ens2rt.errors import Ens2Error, InputError, ModelError
from ens2rt.catalog.family import ModelFamily
from ens2rt.options import DEFAULT_HOP, Options
from ens2rt.engine.offline import infer
from ens2rt.result import InferenceResult
from ens2rt.catalog.model import Model, available_families, available_models, available_providers
from ens2rt.engine.stream import Stream, StreamOutput
from ens2rt.engine.traces import noise_level

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_HOP",
    "Ens2Error",
    "InferenceResult",
    "InputError",
    "Model",
    "ModelError",
    "ModelFamily",
    "Options",
    "Stream",
    "StreamOutput",
    "__version__",
    "available_families",
    "available_models",
    "available_providers",
    "example",
    "infer",
    "noise_level",
]
