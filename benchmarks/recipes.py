"""The training recipes the leave-one-out and noise benchmarks can train, by name: TrainSettings fields and what each tests.

``published`` is the ENS² recipe; the rest are the variants ``research/recipe.py`` validated
on folds inside the training data (its findings: ``research/findings.md``). The benchmarks
train any of them under their own protocol (``accuracy.py run --recipe NAME``).
"""

from __future__ import annotations

# the shipped student's recipe (conv-noise-distil1); its variants below each add a field to it
DISTILLED_STUDENT = {"kind": "convolutional", "context": 192, "input_scaling": "noise_std", "max_steps": 1500,
                     "patience": 1500, "teacher_run": "windowed-s0", "teacher_weight": 1.0}
# name: (TrainSettings fields, what it tests)
VARIANTS = {
    "windowed": ({}, "the published recipe: windowed U-Net, InstanceNorm, patience 500 on the batch loss"),
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
    **{f"windowed-nu{level}": ({"max_steps": 1600, "patience": 1600, "noise_level": float(level)},
                               f"the shipped ens2-exc-nu{level} recipe: the published network for a fixed 1600 steps with "
                               f"white noise lifting every trace to nu = {level} (a windowed family member)")
       for level in (2, 4, 6, 8)},
    **{f"windowed-band{level}": ({"max_steps": 1600, "patience": 1600, "noise_band": (level - 1.0, level + 1.0)},
                                 f"as windowed-nu{level}, every window lifted to its own nu drawn uniformly from "
                                 f"{level - 1}-{level + 1} (a family member trained over a band around its level)")
       for level in (2, 4, 6, 8)},
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
    "conv-noise-distil1-b2048": ({**DISTILLED_STUDENT, "batch_size": 2048},
                                 "as conv-noise-distil1, twice the windows per step (batch 2048, the same 1500 steps): "
                                 "more data per step"),
    "conv-noise-distil1-teachers2": ({"kind": "convolutional", "context": 192, "input_scaling": "noise_std", "max_steps": 1500,
                               "patience": 1500, "teacher_run": ("windowed-s0", "windowed-s1"), "teacher_weight": 1.0},
                              "as conv-noise-distil1, the teacher an ensemble: the rates of the fold's windowed-s0 and "
                              "windowed-s1 runs averaged"),
    "windowed-cosine": ({"max_steps": 2000, "patience": 2000, "schedule": "cosine"},
                        "the published network, a fixed 2000 steps with the learning rate decaying to zero along a half "
                        "cosine (no early stop)"),
    "windowed-eucd": ({"loss": "eucd"},
                      "the published recipe with the EucD loss: each window's Euclidean distance from its target, "
                      "averaged over the batch, instead of the MSE"),
    "windowed-synth": ({"synthetic": 0.5},
                       "the published recipe plus a synthetic copy of half the training trials: their real spikes "
                       "through simulated indicators (rise 2-60 ms, decay 0.08-1.5 s, 0.08-0.8 dF/F per spike, each "
                       "log-uniform per trial) at the trial's frame rate and noise level (`ens2export.synthetic`)"),
    "windowed-synth25": ({"synthetic": 0.25},
                         "as windowed-synth, a synthetic copy of a quarter of the training trials instead of half"),
    "windowed-synth-scan": ({"synthetic": 0.5, "synthetic_scan_offset": True},
                            "as windowed-synth, each synthetic trial sampled late by a delay drawn uniformly within "
                            "one frame (a scanning microscope reaches a neuron after the frame starts)"),
    "windowed-slow": ({"slower_frames": 0.5},
                      "the published recipe plus a copy of half the training trials as if recorded at a lower frame "
                      "rate (5-30 Hz, log-uniform per trial, below the trial's own): point samples brought back to 60 Hz "
                      "(`ens2export.frame_rates`)"),
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
}  # fmt: skip
# `ensemble` records seed ensembles as VARIANT-xN: no variant may take such a name
assert not [name for name in VARIANTS if name.rsplit("-", 1)[-1][:1] == "x" and name.rsplit("-", 1)[-1][1:].isdigit()]
