"""The training recipes the leave-one-out and noise benchmarks can train, by name: TrainSettings fields and what each tests.

``published`` is the ENS² recipe; the rest are variants of it that plain ``TrainSettings``
can train, each validated by ``research/recipe.py`` on folds inside the training data (its
findings: ``research/findings.md``). The benchmarks train any of them under their own
protocol (``accuracy.py run --recipe NAME``). Variants that need research-only options
are in ``research/variants.py``.
"""

from __future__ import annotations

# the shipped student's recipe (conv-noise-distil1); its variants below each add a field to it
DISTILLED_STUDENT = {"kind": "convolutional", "context": 192, "input_scaling": "noise_std", "max_steps": 1500,
                     "patience": 1500, "teacher_run": "windowed-s0", "teacher_weight": 1.0}
# name: (TrainSettings fields, what it tests)
VARIANTS = {
    "windowed": ({}, "the published recipe: windowed U-Net, InstanceNorm, patience 500 on the batch loss"),
    "windowed-allcells": ({"training_pool": "all"},
                          "the published recipe trained on every dataset of both cell classes but the held-out one "
                          "(leave-one-out only): an inhibitory model that has also seen sparse-firing excitatory neurons"),
    "windowed-inh-share25": ({"training_pool": "all", "other_class_share": 0.25},
                             "as windowed-allcells with the other cell class's trials cut so they make up 25% of the "
                             "windows (leave-one-out only): a smaller share of sparse firers in inhibitory training"),
    "conv-raw": ({"kind": "convolutional", "context": 192, "input_scaling": "none", "max_steps": 1500, "patience": 1500},
                 "convolutional U-Net (BatchNorm), 192-sample windows, loss on the central 96, raw dF/F, 1500 steps"),
    "conv-noise": ({"kind": "convolutional", "context": 192, "input_scaling": "noise_std", "max_steps": 1500, "patience": 1500},
                   "convolutional U-Net (BatchNorm), 192-sample windows, loss on the central 96, 1500 steps, "
                   "input divided by the trace's noise std (ens2-exc-conv's recipe until 2026-12-03)"),
    **{f"online-{ms}ms": ({"kind": "convolutional", "context": 192, "input_scaling": "noise_std", "max_steps": 1500,
                           "patience": 1500, "lookahead": samples, "resampler": "linear"},
                          f"as conv-noise, low latency: output reads at most {samples} samples ({ms} ms) ahead, "
                          "trained and run on linearly resampled traces")
       for ms, samples in ((0, 0), (50, 3), (100, 6))},
    "online-100ms-3000": ({"kind": "convolutional", "context": 192, "input_scaling": "noise_std", "max_steps": 3000,
                           "patience": 3000, "lookahead": 6, "resampler": "linear"},
                          "as online-100ms, twice the steps (3000)"),
    **{f"online-100ms-nu{level}": ({"kind": "convolutional", "context": 192, "input_scaling": "noise_std", "max_steps": 1500,
                                    "patience": 1500, "lookahead": 6, "resampler": "linear", "noise_level": float(level)},
                                   f"as online-100ms, trained with white noise lifting every trace to nu = {level} "
                                   "(a noise member; `recipe.py noise` scores it in a family)")
       for level in (4, 8)},
    **{f"windowed-nu{level}": ({"max_steps": 1600, "patience": 1600, "noise_level": float(level)},
                               f"the shipped ens2-exc-nu{level} recipe: the published network for a fixed 1600 steps with "
                               f"white noise lifting every trace to nu = {level} (a windowed family member)")
       for level in (2, 4, 6, 8)},
    **{f"windowed-band{level}": ({"max_steps": 1600, "patience": 1600, "noise_band": (level - 1.0, level + 1.0)},
                                 f"as windowed-nu{level}, every window lifted to its own nu drawn uniformly from "
                                 f"{level - 1}-{level + 1} (a family member trained over a band around its level)")
       for level in (2, 4, 6, 8)},
    "conv-noise-distil": ({"kind": "convolutional", "context": 192, "input_scaling": "noise_std", "max_steps": 1500, "patience": 1500,
                           "teacher_run": "windowed-s0", "teacher_weight": 0.5},
                          "as conv-noise, distilled: the targets are half the smoothed truth and half the rates of a "
                          "windowed model trained on the same data (hop 6) on the training trials: on a validation fold its "
                          "windowed-s0 run, in leave-one-out the published recipe's model of the same split"),
    "conv-noise-distil1": (DISTILLED_STUDENT,
                           "as conv-noise-distil, the targets are the teacher's rates alone (teacher weight 1; the shipped "
                           "ens2-exc-conv recipe, its teacher ens2-exc-native)"),
    **{f"conv-noise-distil1-nu{level}": ({**DISTILLED_STUDENT, "noise_level": float(level)},
                                         f"as conv-noise-distil1, the student's inputs lifted to nu = {level} by white noise "
                                         "while its targets stay the teacher's rates on the clean traces (a noise member "
                                         "that learns to denoise; `recipe.py noise` scores it in a family)")
       for level in (2, 4, 6, 8)},
    "conv-noise-distil1-b2048": ({**DISTILLED_STUDENT, "batch_size": 2048},
                                 "as conv-noise-distil1, twice the windows per step (batch 2048, the same 1500 steps): "
                                 "more data per step"),
    "conv-noise-distil1-teachers2": ({"kind": "convolutional", "context": 192, "input_scaling": "noise_std", "max_steps": 1500,
                               "patience": 1500, "teacher_run": ("windowed-s0", "windowed-s1"), "teacher_weight": 1.0},
                              "as conv-noise-distil1, the teacher an ensemble: the rates of the fold's windowed-s0 and "
                              "windowed-s1 runs averaged"),
}  # fmt: skip
# `ensemble` records seed ensembles as VARIANT-xN: no variant may take such a name
assert not [name for name in VARIANTS if name.rsplit("-", 1)[-1][:1] == "x" and name.rsplit("-", 1)[-1][1:].isdigit()]
