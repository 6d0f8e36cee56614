"""Recipe variants that need research options (:class:`research.training.ResearchSettings`), by name.

Each is a set of settings fields and what it tests. ``VARIANTS`` is every recipe this
folder validates: the product's (``benchmarks/recipes.py``, trainable with plain
``TrainSettings``) and these. ``findings.md`` says how each scored and why those here lost.
"""

from __future__ import annotations

from benchmarks.recipes import DISTILLED_STUDENT
from benchmarks.recipes import VARIANTS as PRODUCT_VARIANTS

RESEARCH_VARIANTS = {
    "conv-noise-cosine": ({"kind": "convolutional", "context": 192, "input_scaling": "noise_std", "max_steps": 1500,
                           "patience": 1500, "schedule": "cosine"},
                          "as conv-noise, the learning rate decaying to zero along a half cosine over the 1500 steps"),
    "conv-noise-cosine-drift": ({"kind": "convolutional", "context": 192, "input_scaling": "noise_std", "max_steps": 1500,
                                 "patience": 1500, "schedule": "cosine", "drift": 5.0},
                                "as conv-noise-cosine, inputs given a random baseline offset and ramp (each N(0, 5) noise std)"),
    "conv-noise-cosine-band8": ({"kind": "convolutional", "context": 192, "input_scaling": "noise_std", "max_steps": 1500,
                                 "patience": 1500, "schedule": "cosine", "noise_band": (0.0, 8.0)},
                                "as conv-noise-cosine, every window lifted to its own ν drawn uniformly from 0-8 "
                                "(one model over the noise range)"),
    "conv-local": ({"kind": "convolutional", "context": 288, "input_scaling": "noise_std", "max_steps": 1500, "patience": 1500,
                    "local_window": 97},
                   "as conv-noise, plus a second input channel: the input z-scored over a centred 97-sample window "
                   "(the windowed model's per-window gain control, once per sample); 288-sample training windows"),
    "conv-dilated": ({"kind": "convolutional", "context": 288, "input_scaling": "noise_std", "max_steps": 1500, "patience": 1500,
                      "dilation": 4},
                     "as conv-noise, the bottleneck's convolutions dilated 4x: reach 99 samples each side instead of 51 "
                     "(1.65 s, about the windowed model's); 288-sample training windows"),
    "conv-slidenorm": ({"kind": "convolutional", "context": 288, "input_scaling": "noise_std", "max_steps": 1500, "patience": 1500,
                        "norm_window": 97},
                       "as conv-noise, with sliding InstanceNorm instead of BatchNorm: every conv's output normalised per "
                       "channel over a centred window of 97 input samples (49, 25, 13 at the coarser levels), the windowed "
                       "model's per-window normalisation without windows; 288-sample training windows"),
    "conv-noise-distil-stretch": ({"kind": "convolutional", "context": 192, "input_scaling": "noise_std", "max_steps": 1500,
                                   "patience": 1500, "teacher_run": "windowed-s0", "teacher_weight": 0.5, "stretch": 1.5},
                                  "as conv-noise-distil, each training window slowed or sped up by a factor drawn log-uniformly "
                                  "from 1/1.5 to 1.5 (indicator kinetics the training data lack)"),
    "conv-noise-distil-gain": ({"kind": "convolutional", "context": 192, "input_scaling": "noise_std", "max_steps": 1500,
                                "patience": 1500, "teacher_run": "windowed-s0", "teacher_weight": 0.5, "gain": 2.0},
                               "as conv-noise-distil, each training input multiplied by a factor drawn log-uniformly from "
                               "1/2 to 2 (amplitude augmentation; the targets stay)"),
    "conv-noise-distil1-stretch": ({**DISTILLED_STUDENT, "stretch": 1.5},
                                   "as conv-noise-distil1, each training window (input and the teacher's rates) slowed or sped "
                                   "up by a factor drawn log-uniformly from 1/1.5 to 1.5 (indicator kinetics the training data lack)"),
    "conv-noise-distil1-gain": ({**DISTILLED_STUDENT, "gain": 2.0},
                                "as conv-noise-distil1, each training input (after its noise-std scaling) multiplied by a "
                                "factor drawn log-uniformly from 1/2 to 2, its targets (the teacher's rates) unchanged: "
                                "amplitude augmentation"),
    "conv-noise-distil1-gain125": ({**DISTILLED_STUDENT, "gain": 1.25},
                                   "as conv-noise-distil1-gain, the factor drawn from 1/1.25 to 1.25 (milder amplitude "
                                   "augmentation)"),
    "conv-noise-distil1-cosine": ({**DISTILLED_STUDENT, "schedule": "cosine"},
                                  "as conv-noise-distil1, the learning rate decaying to zero along a half cosine over "
                                  "the 1500 steps"),
    "conv-noise-distil1-baseline97": ({**DISTILLED_STUDENT, "context": 288, "baseline_window": 97},
                                      "as conv-noise-distil1, the network taking its input less the input's mean over a "
                                      "centred 97-sample window (blind to a constant baseline offset, as the windowed "
                                      "teacher's per-window normalisation is); reach 99, 288-sample training windows"),
    "conv-noise-distil1-baseline385": ({**DISTILLED_STUDENT, "context": 592, "baseline_window": 385},
                                       "as conv-noise-distil1-baseline97 with a 385-sample (6.4 s) local mean: a milder "
                                       "high-pass, still blind to a constant offset; reach 243, 592-sample training windows"),
    "windowed-cosine": ({"max_steps": 2000, "patience": 2000, "schedule": "cosine"},
                        "the published network, a fixed 2000 steps with the learning rate decaying to zero along a half "
                        "cosine (no early stop)"),
    "windowed-eucd": ({"loss": "eucd"},
                      "the published recipe with the EucD loss: each window's Euclidean distance from its target, "
                      "averaged over the batch, instead of the MSE"),
    "windowed-synth": ({"synthetic": 0.5},
                       "the published recipe plus a synthetic copy of half the training trials: their real spikes "
                       "through simulated indicators (rise 2-60 ms, decay 0.08-1.5 s, 0.08-0.8 dF/F per spike, each "
                       "log-uniform per trial) at the trial's frame rate and noise level (`research.training.synthetic`)"),
    "windowed-synth25": ({"synthetic": 0.25},
                         "as windowed-synth, a synthetic copy of a quarter of the training trials instead of half"),
    "windowed-synth-scan": ({"synthetic": 0.5, "synthetic_scan_offset": True},
                            "as windowed-synth, each synthetic trial sampled late by a delay drawn uniformly within "
                            "one frame (a scanning microscope reaches a neuron after the frame starts)"),
    "windowed-slow": ({"slower_frames": 0.5},
                      "the published recipe plus a copy of half the training trials as if recorded at a lower frame "
                      "rate (5-30 Hz, log-uniform per trial, below the trial's own): point samples brought back to 60 Hz "
                      "(`research.training.slower_frames`)"),
    "windowed-slow-synth": ({"slower_frames": 0.5, "synthetic": 0.5},
                            "windowed-slow and windowed-synth together: a slower-frame copy of half the training trials, "
                            "then a synthetic copy of half of all trials, real and slower alike"),
    "conv-noise-distil1-slow": ({"kind": "convolutional", "context": 192, "input_scaling": "noise_std", "max_steps": 1500,
                                 "patience": 1500, "teacher_run": "windowed-slow-s0", "teacher_weight": 1.0,
                                 "slower_frames": 0.5},
                                "as conv-noise-distil1, the student of windowed-slow: its teacher the fold's windowed-slow-s0 "
                                "run, and a slower-frame copy of half its training trials, labelled by that teacher"),
    "conv-noise-distil1-slowcopy": ({**DISTILLED_STUDENT, "slower_frames": 0.5},
                                    "as conv-noise-distil1 (its teacher the fold's windowed-s0 run, as ens2-exc-conv's is "
                                    "ens2-exc-native), with a slower-frame copy of half its training trials, labelled by "
                                    "that teacher"),
    "conv-noise-distil1-slowtruth": ({**DISTILLED_STUDENT, "slower_frames": 0.5, "slower_targets": "truth"},
                                     "as conv-noise-distil1-slowcopy, the slower copies labelled by their true spikes "
                                     "(the teacher, trained on faster frames, over-counts on slow ones): teacher targets "
                                     "on the real trials, ground truth on the slowed"),
    "windowed-stretch": ({"stretch": 1.5},
                         "the published recipe with time-stretch augmentation: each training window's time axis "
                         "(input and true-spike targets) scaled by a factor drawn log-uniformly from 1/1.5 to 1.5"),
    "windowed-valstop": ({"validation_share": 0.125},
                         "the published recipe stopped on validation loss instead of the batch loss: an eighth of every "
                         "training dataset's neurons held out (datasets of four neurons or more), their MSE on 8192 fixed "
                         "windows measured every 50 steps, patience 500 steps, the weights with the best returned"),
    "windowed-corr": ({"loss": "mse+corr"},
                      "the published recipe with a correlation term: MSE + 0.01 x the mean of 1 - r over the batch's "
                      "windows whose target varies (r: Pearson, per window)"),
    "conv-noise-distil1-w2": ({**DISTILLED_STUDENT, "width": 2},
                              "as conv-noise-distil1, twice the features in every layer (18-36-72-144): about 4x the "
                              "student's parameters and compute, still about a twelfth of the windowed model's cost"),
}  # fmt: skip
VARIANTS = {**PRODUCT_VARIANTS, **RESEARCH_VARIANTS}  #: name: (settings fields, what it tests)
assert not set(PRODUCT_VARIANTS) & set(RESEARCH_VARIANTS)
