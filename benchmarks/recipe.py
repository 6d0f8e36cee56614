"""Validation of training choices on grouped folds *inside* the excitatory training data.

Every setting of a recipe (model kind, input scaling, window context, steps, …) is
chosen here, never on the leave-one-dataset-out or noise tables, which only report.
The 23 excitatory datasets fall into four folds of whole datasets with each indicator
family kept together, so a validation fold holds indicators its models never saw:

    A  synthetic dyes (OGB-1, Cal-520)         DS01-DS05
    B  GCaMP6f                                 DS06-DS11
    C  GCaMP6s, GCaMP5k                        DS12-DS17
    D  red indicators, jGCaMP7f, jGCaMP8m      DS18-DS21, DS29, DS31

``python benchmarks/recipe.py run FOLD VARIANT --seed S`` trains a variant on the
other three folds and scores it on FOLD (median per-neuron correlation and CASCADE
bias of each dataset, the model run over whole trials); one JSON per run lands in
``benchmarks/results/recipe/``. ``python benchmarks/recipe.py table`` writes
``benchmarks/results/recipe.md`` from every JSON there, finished runs only.
``python benchmarks/recipe.py dataset-facts`` records each dataset's typical noise level
and frame rate, which the table's spike-count rows relate the bias to;
``python benchmarks/recipe.py offset-counts FOLD VARIANT`` how a run's spike count moves
when the held-out ΔF/F is lifted by a constant (a baseline error).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import CACHE, EXCITATORY, GROUND_TRUTH, RESULTS, median  # noqa: E402

FOLDS = {
    "A": ["DS01", "DS02", "DS03", "DS04", "DS05"],
    "B": ["DS06", "DS07", "DS08", "DS09", "DS10", "DS11"],
    "C": ["DS12", "DS13", "DS14", "DS15", "DS16", "DS17"],
    "D": ["DS18", "DS19", "DS20", "DS21", "DS29", "DS31"],
}
assert sorted(sum(FOLDS.values(), [])) == sorted(EXCITATORY)
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
# What the runs above decided, and what they did not; kept beside the table it reads.
FINDINGS = """\
## What was decided (fold D 2026-11-28, folds A–C 2026-11-29; two seeds per variant on every fold)

- **Input scaling of convolutional models: noise std**, over raw ΔF/F. Mean over seeds
  0.712 vs 0.692: within the seed spread (0.731 / 0.692 for the same recipe), so a weak
  preference, but it also halves the median spike-count bias (+0.35 vs +0.83) and wins
  DS18 and DS29 under both seeds. Shipped `ens2-exc-conv` uses it.
- **Convolutional models do not replace the windowed default.** Fold means over two seeds,
  windowed against conv-noise: A (synthetic dyes) 0.502 / 0.536 (+0.034); B (GCaMP6f)
  0.680 / 0.630 (−0.050); C (GCaMP6s, GCaMP5k) 0.767 / 0.689 (−0.079); D (red, jGCaMP7f/8m)
  0.742 / 0.712 (−0.030). On B and C the gap is several times the seed spread (B seeds
  0.679 / 0.681 against 0.632 / 0.628; C 0.756 / 0.779 against 0.677 / 0.701). The losses
  sit on zebrafish GCaMP6f (DS06–DS08), GCaMP6s (DS15, DS16) and the red indicators
  (DS19–DS21); conv is level on mouse GCaMP6f (DS09–DS11), DS18, DS29, DS31 and ahead on
  the dyes. Its median spike-count bias is positive on every fold and seed (+0.18 to
  +0.77), the windowed one between −0.26 and +0.33. Tried since (next section): seed
  ensembles (gain), a cosine schedule, drift augmentation and a 0–8 noise band (no gain).
  Not yet tried: longer context, other losses, amplitude and time-stretch augmentation.
- The windowed runs stop by the published rule (500 steps without beating their best
  single-batch loss) anywhere between 846 and 2042 steps; the comparison is at each
  recipe's own stopping rule.

## Schedule, ensembles, drift, spike counts (2026-11-29, second round)

- **Seed ensembles gain on every fold, both kinds** (`recipe.py ensemble FOLD VARIANT`: the
  rates of seeds 0 and 1 averaged). conv-noise A / B / C / D: 0.548 / 0.642 / 0.706 / 0.720
  against seed means 0.536 / 0.630 / 0.689 / 0.712; windowed 0.505 / 0.694 / 0.777 / 0.750
  against 0.502 / 0.680 / 0.767 / 0.742. Pooled mean r 0.646 (seeds 0.634, 0.630) and 0.678
  (0.676, 0.665). +0.003 to +0.017 per fold for twice the network's cost. Not shipped yet:
  that needs a second seed of each shipped model trained on all data.
- **A cosine learning-rate schedule is not a consistent gain** (one seed, four folds).
  conv-noise-cosine (1500 steps) A / B / C / D: 0.524 / 0.656 / 0.655 / 0.721 against the
  constant-rate seed means 0.536 / 0.630 / 0.689 / 0.712: two folds up, two down; pooled mean
  r 0.639 against 0.634 / 0.630, within the seed spread. windowed-cosine (a fixed 2000 steps
  instead of the patience rule) on B / C: 0.678 / 0.779 against 0.680 / 0.767. Neither is
  adopted; the constant rate stays.
- **Baseline-drift augmentation loses** (`conv-noise-cosine-drift`, offset and ramp N(0, 5)
  noise std): B 0.638, C 0.646 against 0.656, 0.655 without it (higher on DS06, lower on
  DS15 and DS16, where the convolutional recipe trails the windowed one most). This
  augmentation does not close the convolutional recipe's deficit on B and C.
- **Spike counts: a global rate scale does not transfer between folds** (table above: the
  factor that minimises median |bias| on three folds, applied to the fourth). For windowed
  runs the fitted factors run from 0.54 to 1.47 depending on which fold is held out, and
  scaling makes median |bias| worse (0.46 → 0.58) or leaves it (0.53 → 0.52); for
  conv-noise it improves it (0.58 → 0.40, 0.55 → 0.47) but stays far above the 0.25
  target. Bias is a property of indicator and preparation (signed biases of both signs
  within each fold), which one scalar cannot fix; not shipped.
- **Across noise, the noise-std input carries a single convolutional model further than
  the windowed one** (`recipe.py robustness D`, seed 0): as recorded / ν = 4 / ν = 8,
  conv-noise 0.731 / 0.585 / 0.433, conv-raw 0.690 / 0.502 / 0.231, windowed 0.738 /
  0.490 / 0.350. The windowed *family* (members trained like the shipped ens2-exc-nu4 and
  -nu8, `recipe.py noise D --base windowed ...`) scores 0.737 / 0.510 / 0.434: one
  conv-noise model matches the whole windowed family at ν = 8, beats it at ν = 4 (+0.075)
  and is 0.006 below it as recorded. So a convolutional default may need no noise members;
  one fold and one seed, to be checked on the other folds before it decides anything.
- **A noise band loses** (`conv-noise-cosine-band8`: every window lifted to its own ν drawn
  from 0–8, one model for all noise): fold D as recorded / ν = 4 / ν = 8, 0.617 / 0.527 /
  0.420 against 0.721 / 0.607 / 0.438 for the same recipe without it. Training on noisy
  windows costs more at native noise than it returns at high noise; the noise-std input
  scaling alone does better. One seed.
## Closing the convolutional recipe's gap (2026-11-29, third round)

- **A local z-score input channel loses** (`conv-local`: the network also reads its input
  z-scored over a centred 97-sample window, the windowed model's per-window gain control
  computed once per sample; reach 99). Fold B 0.648, fold C 0.617 (seed 0) against
  conv-noise 0.632 / 0.628 and 0.677 / 0.701 and windowed 0.679 / 0.681 and 0.756 / 0.779.
  B gains on DS06 and DS07 (+0.09, +0.05 over the conv-noise seed mean), C loses 0.07,
  three times the seed spread, on every dataset, most on DS14 (−0.10) and DS15 (−0.08); median bias rises to +0.36 (B) and +0.80 (C), with DS06, DS07 and DS14
  above +2.5. A trace's own amplitude, taken away by the z-score, is what sets the rate
  scale. One seed: the loss on C is too large for a second seed to reverse; not adopted.
- **A wider reach loses more** (`conv-dilated`: the bottleneck's convolutions dilated 4x,
  reach 99 samples each side instead of 51, about what a windowed model's overlapping
  windows see; 288-sample training windows). Fold B 0.661, fold C 0.482 (seed 0): B level
  with conv-noise (0.632 / 0.628), C 0.21 below it (0.677 / 0.701), every C dataset lower
  and median bias +2.4 (DS14 +7.8). Both ways of seeing further (this and `conv-local`)
  raise the spike-count bias on indicators outside the training folds (our reading, not
  tested: a longer view ties the rate to transient amplitudes that differ between
  indicators). So the
  convolutional recipe keeps reach 51 and its 0.03–0.08 deficit on folds B–D is not a
  matter of receptive field. Not adopted; one seed (the C loss is ten times the spread).

- **A convolutional default would still need noise members.** Fold D suggested one
  conv-noise model might match the windowed noise family (second round). Checked on the
  noise benchmark's two folds, all 23 datasets (`python benchmarks/noise.py train --recipe
  conv-noise`, then `score --recipe conv-noise`; `benchmarks/results/noise.md`): as recorded
  / ν = 2 / 4 / 6 / 8 it scores 0.645 / 0.559 / 0.464 / 0.368 / 0.295, above the windowed
  recipe model alone from ν = 2 on (0.665 / 0.542 / 0.419 / 0.306 / 0.207) but below the
  family at every level (0.671 / 0.582 / 0.525 / 0.468 / 0.415), on 16 to 21 of 23
  datasets. The fold D result did not generalise; a reporting table, recorded here
  because it corrects a validation note, not used to choose.

- **Sliding InstanceNorm loses too** (`conv-slidenorm`: BatchNorm replaced by the windowed
  model's normalisation without its windows — every conv output normalised per channel
  over a centred 97-sample window, 49 / 25 / 13 at the coarser levels; 288-sample training
  windows; reach 723). Fold B 0.560, fold C 0.655 (seed 0) against conv-noise 0.630 and
  0.689 and windowed 0.680 and 0.767. It loses most where conv-local gained, zebrafish
  GCaMP6f (DS06 0.370, DS07 0.448 against conv-noise 0.542 / 0.546 seed 0), gains on DS14
  (0.684 against 0.623 / 0.664) and lowers the median bias (+0.09 on B, +0.28 on C, against
  +0.37 and +0.43 for conv-noise seed 0). What the windowed model gets from normalising
  each window is not what a per-sample sliding normalisation gives (one reading, not
  tested: its many overlapping windows average 16 normalisations of every sample, see the
  probes below, while a sliding norm gives each sample one). The B loss is three times
  the seed spread; not adopted.

## Distillation (2026-11-29, fourth round) — the convolutional recipe's best so far

- **A convolutional model trained on a windowed model's rates gains on every fold**
  (`conv-noise-distil`: as conv-noise, but the targets are half the smoothed true spikes and
  half the rates of the same fold's windowed-s0 run at hop 6 over the training trials;
  `ens2export train --teacher`). Seed 0, median r A / B / C / D 0.561 / 0.675 / 0.701 /
  0.733 against conv-noise (two seeds) 0.521, 0.551 / 0.632, 0.628 / 0.677, 0.701 / 0.731,
  0.692 and windowed 0.520, 0.484 / 0.679, 0.681 / 0.756, 0.779 / 0.738, 0.746. Pooled
  over the 23 datasets, mean r 0.662 against conv-noise 0.634 / 0.630 and windowed 0.676 /
  0.665: +0.03 over the convolutional recipe, several times its seed spread, and within
  0.003–0.014 of the windowed one. Within 0.01 mean r of the windowed recipe on B (zebrafish
  GCaMP6f DS06–DS08 gain 0.06–0.13 over the conv-noise seed mean) and D, ahead on the dyes
  (A), still 0.05–0.08 behind on C (GCaMP6s DS15, DS16 most). Median |bias| pooled 0.56, no better.
- **Second seeds on B and C** confirm a gain, smaller on C: seed 1 scores B 0.652 (mean r
  0.668; DS06 0.492 against 0.621 for seed 0) and C 0.703 (0.625). Mean over the two seeds,
  median r B 0.663 / C 0.702 against conv-noise 0.630 / 0.689 and windowed 0.680 / 0.767;
  mean r B 0.683 / C 0.630 against 0.650 / 0.620 and 0.709 / 0.691. Distillation closes
  about half the gap to the windowed recipe on B, a sixth on C.
- The student runs at the convolutional model's speed: the teacher is only needed in
  training. Superseded by a teacher weight of 1 (next section).

## Distillation with the teacher's rates alone (2026-11-29, fifth round) — level with the windowed recipe

- **Targets all teacher beat targets half truth** (`conv-noise-distil1`: as conv-noise-distil,
  teacher weight 1, no true spikes in the targets). Median r, seeds 0 / 1: B 0.689 / 0.676,
  C 0.756 / 0.763, against half-truth distillation 0.675 / 0.652 and 0.701 / 0.703,
  conv-noise 0.632 / 0.628 and 0.677 / 0.701, and the windowed recipe (the teacher's
  recipe) 0.679 / 0.681 and 0.756 / 0.779. Mean r over the two seeds B 0.708 / C 0.694
  against windowed 0.709 / 0.691: the gap to the windowed recipe is gone on both folds
  where it was largest, GCaMP6s included (DS14 0.756 / 0.768 against 0.733 / 0.765,
  DS15 0.520 / 0.544 against 0.541 / 0.475, DS16 0.496 / 0.540 against 0.518 / 0.449).
- **Seed 0 on A and D**: A 0.561 (conv-noise-distil 0.561, windowed 0.520 / 0.484), D
  0.740 (0.733; windowed 0.738 / 0.746; DS31 0.870 against 0.831 / 0.826). Pooled over
  the 23 datasets, seed 0: mean r 0.681 against windowed 0.676 / 0.665, conv-noise-distil
  0.662, conv-noise 0.634 / 0.630 (median r 0.659 against windowed 0.666 / 0.663: level
  within the seed spread, not ahead); median |bias| 0.36 against 0.46 / 0.53, 0.56 and
  0.58 / 0.55; largest bias +1.28 against +2.80 / +3.36.
- **Second seeds on A and D** agree: A 0.562, D 0.735. Pooled, seed 1: mean r 0.683,
  median r 0.664, median |bias| 0.37 (largest +2.96). Over two seeds each, mean r 0.681 /
  0.683 against the windowed recipe's 0.676 / 0.665 and median r 0.659 / 0.664 against
  0.666 / 0.663. The student, run over whole traces at the convolutional model's speed, is
  as accurate as its windowed teacher and counts spikes better (median |bias|).
- **Seed ensembles of the student** gain as for the other recipes (`recipe.py ensemble B
  conv-noise-distil1`): B 0.687, C 0.766 against seeds 0.689 / 0.676 and 0.756 / 0.763
  (windowed ensembles 0.694 / 0.777).
- One reading, not tested: the smoothed true spikes hold detail (spike timing inside a
  transient, spikes with no visible transient) that no model predicts from the trace;
  the teacher's rates are the predictable part, so the student spends none of its small
  capacity on the rest. Targets that are half truth sit in between, as measured.
- Not yet shipped: leave-one-out folds run with the published recipe's model of each
  split as teacher (`accuracy.py train --recipe conv-noise-distil1`), and the noise
  benchmark (`noise.py train --recipe conv-noise-distil1`, teacher the fold's native
  member) decide the default.
- **An ensemble teacher loses** (`conv-noise-distil1-teachers2`: the targets the averaged
  rates of the fold's windowed-s0 and windowed-s1 runs, whose ensemble scores 0.694 / 0.777
  itself). Seed 0: B 0.646 (mean r 0.662), C 0.760 (0.671), against the single teacher's
  students 0.689 / 0.676 (0.712 / 0.704) and 0.756 / 0.763 (0.686 / 0.701). The loss on B
  is three times the seed spread, on zebrafish GCaMP6f (DS06 0.530, DS07 0.513 against
  0.648 / 0.609 and 0.594 / 0.621); on C it is in DS15 and DS16. A better-scoring teacher
  does not make a better student here: averaging two windowed models smooths their rates,
  and a student of the smoother target loses what it would have needed on other
  indicators (one reading, not tested). Not adopted; one seed.
- **Not measured this round**: time-stretch augmentation (`--stretch`) and amplitude
  augmentation (`--gain`) were built and their runs on half-truth distillation started,
  then stopped in favour of the teacher-weight runs above.

## Noise members for the distilled student (2026-12-03, fold D, seed 0) — they lose to the student alone

- **Denoising students** (`conv-noise-distil1-nu4`, `-nu8`: the distilled recipe with every
  training input lifted to ν = 4 or 8 by white noise at its native rate, the targets still
  the teacher's rates on the clean trace). In a family with the native student
  (`recipe.py noise D --base conv-noise-distil1 --member conv-noise-distil1-nu4 --member
  conv-noise-distil1-nu8`), as recorded / ν = 4 / ν = 8: family 0.732 / 0.536 / 0.419,
  **the native student alone 0.740 / 0.663 / 0.499**. The members lose at their own
  level, −0.127 and −0.080, on four of the six datasets (DS18, DS21, DS29, DS31; they gain
  on the noisiest recordings, the red indicators DS19 and DS20), and count spikes far too
  high there (median bias +1.24 and +1.23, DS29 +3.1, DS31 +2.2; the student alone −0.64
  and −0.83). They are not adopted.
- Checked while reading this: the members' output on pure noise sits at 0.20 (ν = 4) and
  0.31 Hz (ν = 8) against 0.04 Hz for the native student, and the ν = 4 member's output on
  DS20, DS29 and DS31 at ν = 4 never goes below zero before the final ReLU, so the
  over-count is not the ReLU clipping a signed output (the student trains with a linear
  output; a one-off check, not in the benchmarks). One reading, not tested: trained to
  predict the teacher's rate where the noise hides it, a member learns the training
  datasets' firing rates as its prior, which other indicators and preparations do not share.
- **The distilled student alone carries further than anything measured on this fold**:
  against the windowed noise family (members trained like the shipped ens2-exc-nu4 and
  -nu8) 0.740 / 0.663 / 0.499 against 0.737 / 0.510 / 0.434, and against the single
  conv-noise model 0.731 / 0.585 / 0.433 (robustness table above). One fold, one seed,
  and fold D flattered the convolutional recipe before (conv-noise beat the windowed
  family at ν = 4 here, then lost at every level in the two-fold noise benchmark), so the
  noise benchmark with one student per fold (`noise.py train --recipe conv-noise-distil1`)
  decides; a convolutional default would then ship without noise members.
- **It did not hold on the noise benchmark's fold A** (12 datasets, `noise.py score --recipe
  conv-noise-distil1`; `noise.md`): as recorded / ν = 2 / 4 / 6 / 8 the student scores
  0.694 / 0.568 / 0.437 / 0.351 / 0.290 against the windowed family's 0.662 / 0.574 / 0.516
  / 0.435 / 0.409, ahead only as recorded. Fold D flattered the convolutional recipe a
  second time. A reporting table, recorded here because it corrects the note above, not
  used to choose. Fold B's 11 datasets agree: over all 23, 0.700 / 0.595 / 0.470 / 0.372 /
  0.321 against the family's 0.671 / 0.582 / 0.525 / 0.468 / 0.415 (as recorded better on
  11 datasets, worse on 12). What remains open for a convolutional default: noise members
  that beat these (e.g. a student per level taught by the windowed member of that level
  on the same noisy input), or a family whose native member is the student and whose noise
  members stay the windowed ones (level with the windowed family wherever a trace is noisy).
- **A family of mixed kinds meets the bar set before it ran** (2026-12-03; `recipe.py noise D
  --base conv-noise-distil1 --member windowed-nu4 --member windowed-nu8`: the distilled
  student as the native member, the windowed ν = 4 and 8 members beside it, which the
  runtime now runs in one family). Set in advance: adopt it if as recorded its median r is
  at least the windowed family's and at ν = 4 and 8 within 0.01 of it. Fold D, seed 0, as
  recorded / ν = 4 / ν = 8: 0.739 / 0.510 / 0.434 against the windowed family's 0.737 /
  0.510 / 0.434 (mean r as recorded 0.750 against 0.742; ahead on DS18, DS29, DS31, behind
  on DS19, DS20, DS21). At ν = 4 and 8 every trial runs on a windowed member, so the two
  families score the same there by construction; the student alone scores more there on
  this fold (0.663 / 0.499), as it did not in the noise benchmark. As recorded, trials that
  the family sends to a noise member lose against the student alone on DS29 (0.864 against
  0.915): the windowed members are the weaker part of a quiet-enough trace. One fold, one
  seed; the noise benchmark (`noise.py score --recipe conv-noise-distil1
  --published-members`) reports it.
- **Time-stretch augmentation does not help the distilled student either**
  (`conv-noise-distil1-stretch`: each training window, input and the teacher's rates,
  slowed or sped up by up to 1.5×, for indicator kinetics the training data lack). Fold D,
  seed 0: 0.735 against 0.740 / 0.735 for the student without it (seeds 0 / 1); on GCaMP8m
  (DS31), the indicator it was meant for, 0.864 against 0.870 / 0.851, and its spike count
  rises there (+0.78 against +0.40). Not adopted; one seed, no sign of a gain worth a second.

- **More data per step does not help the distilled student** (2026-12-04,
  `conv-noise-distil1-b2048`: batch 2048 instead of 1024, the same 1500 steps, twice the
  compute; seed 0, folds B and D, the fold teachers retrained and reproducing their scores
  exactly). B 0.670 (mean r 0.681) against 0.689 / 0.676 (0.712 / 0.704) for the student
  at batch 1024, seeds 0 / 1: it loses on zebrafish GCaMP6f (DS06 0.551, DS07 0.541
  against 0.648 / 0.609 and 0.594 / 0.621). D 0.745 (mean 0.756) against 0.740 / 0.735
  (0.759 / 0.750): within the seed spread. Not adopted; one seed, no sign of a gain worth
  a second.

## Which family is the default `ens2-exc` (rule set 2026-12-03, before the last 8 leave-one-out folds ran)

- `ens2-exc-mixed` (the distilled student for quiet traces, the windowed noise members for
  noisy ones) ships by name. It replaces the windowed family as the default `ens2-exc` if,
  once `conv-noise-distil1` has run on all 23 leave-one-out datasets (`accuracy.md`), its
  median r over DS02–DS21 is at least the published recipe's **and** its mean r over the
  23 is at least the published recipe's. The noise benchmark's part of the bar is met
  already (`noise.md`: the mixed family 0.700 / 0.579 / 0.527 / 0.455 / 0.413 against
  0.673 / 0.579 / 0.527 / 0.455 / 0.413, as recorded and at ν = 2 … 8). Set now, while 15
  of the 23 folds are in: there median r 0.710 against 0.707, mean r 0.688 against 0.699.
  Both are reporting tables; they decide the default, never a recipe setting.
- **Outcome (all 23 folds in, 2026-12-03):** median r over DS02–DS21 0.677 against 0.673
  (passes), mean r over the 23 0.685 against 0.694 (fails; ahead on 10 of 23, median
  |bias| 0.30 against 0.41). The windowed family stays the default; `ens2-exc-mixed`
  ships by name.

## Which family is the default `ens2-inh` (rule set 2026-12-03, before any inhibitory fold of the student ran)

- `conv-noise-distil1` is trained on the inhibitory datasets as it was on the excitatory
  ones, unchanged (no setting chosen on inhibitory data): the student learns the rates of
  the fold's published-recipe inhibitory model. `ens2-inh-conv` (all six inhibitory
  datasets, taught by `ens2-inh-native`) and `ens2-inh-mixed` (it for quiet traces, the
  windowed `ens2-inh-nu2` … `-nu8` for noisy ones) ship by name. `ens2-inh-mixed`
  replaces the windowed family as the default `ens2-inh` if, with all six leave-one-out
  folds DS22–DS27 in (`accuracy.md`, inhibitory table), the student's median r **and**
  its mean r over the six are both at least the published recipe's: the excitatory bar.
  There is no inhibitory noise benchmark; the two families share their noise members, so
  they differ only on quiet traces, which the leave-one-out table scores.
- **Outcome (all six folds in, 2026-12-04):** median r 0.537 against 0.578, mean r 0.544
  against 0.554 (both fail; ahead on DS24 and DS27, behind on DS22, DS23, DS25, DS26;
  median |bias| 0.22 against 0.31). The windowed family stays the default `ens2-inh`;
  `ens2-inh-conv` and `ens2-inh-mixed` ship by name.

## Spike counts that follow the noise level (2026-12-04; table "a rate scale that follows the noise level")

- **The windowed recipe's spike count grows with the dataset's noise level; the students'
  does not.** Over the 23 datasets, each scored by a fold model that never saw it, the
  windowed runs' median bias ranks with the dataset's typical ν (Spearman ρ +0.46 / +0.41 /
  +0.35, seeds 0 / 1 / 2) and not with its frame rate (−0.25 / −0.17 / −0.14); for `conv-noise-distil1` neither
  (ν +0.13 / +0.09, seeds 0 / 1). One reading: a window normalised on its own lifts noise to the scale
  of signal, where the noise-std input of the convolutional models keeps it small.
- **A rate scale c · ν^slope, fitted on three folds and applied to the fourth**, lowers the
  windowed runs' median |bias| from 0.46 to 0.32 (seed 0), 0.53 to 0.49 (seed 1) and 0.64
  to 0.53 (seed 2, run for this check), and their largest bias from +2.80 to +0.67, +3.36 to
  +1.42 and +2.61 to +1.11; the fitted slope is negative on every fold and seed (−0.30 to
  −1.45, mostly near −1), i.e. about the rate divided by ν. A global scale does not (0.58,
  0.52, 0.75). For the distilled student it does not help (0.36 → 0.45, 0.37 → 0.45): its
  bias is not a function of ν. Not shipped yet: the gain is real on three seeds but leaves
  median |bias| at 0.32–0.53 (the issue asks ≤ 0.25), the shipped families
  send noisy traces to noise members whose bias this does not cover, and a calibrated
  default needs the scale in the model contract (rates, spike events and streams alike)
  and a leave-one-out report of it. Dataset facts: `python benchmarks/recipe.py
  dataset-facts` (results/recipe/datasets.json). The issue's median |bias| ≤ 0.25 is
  not reached by any calibration measured here.

## Synthetic indicators and losses (2026-12-04, sixth round; rule set before any seed-1 run)

- Rule, set with seed 0 in on folds B and D only: `windowed-synth` replaces the published
  recipe as the windowed recipe (the default's and the students' teacher) if, with seeds 0
  and 1 on all four folds, its pooled mean r over the 23 datasets is above each of the
  windowed recipe's three seeds (0.676 / 0.665 / 0.663), its pooled median r at least
  theirs (0.666 / 0.663 / 0.677 — so at least 0.677), and its median |bias| at most the
  lowest of theirs (0.46 / 0.53 / 0.64 — so at most 0.46). Then the leave-one-out table (`accuracy.py run --recipe
  windowed-synth`) reports it, and the issue's bars decide what ships.
- **Outcome: `windowed-synth` fails the rule** (all eight runs in). Pooled over the 23
  datasets, seed 0 / 1: median r 0.698 / 0.639, mean r 0.679 / 0.674, median |bias| 0.42 /
  0.47; seed 1 misses all three bars. Per fold, the mean over its two seeds of the median
  r against the windowed recipe's three: A 0.490 / 0.494, B 0.703 / 0.684, C 0.798 / 0.765,
  D 0.731 / 0.745. The synthetic indicators gain on GCaMP6s and GCaMP5k (C: DS12–DS14
  +0.03 to +0.07 on both seeds) and on mouse GCaMP6f (B: DS09–DS11), and lose on the red
  indicators and jGCaMP7f (D: DS20 0.617 and DS29 0.855 under seed 1, against 0.646–0.663
  and 0.880–0.903). On GCaMP8m (DS31), the indicator they were meant for, 0.869 / 0.815
  against 0.807–0.831. The leave-one-out runs queued behind the rule were stopped (the
  DS31 fold after 4 minutes; nothing of it is reported).
- **Spike timing is a large part of what a held-out indicator costs** (`probes.py
  output-shift`: the rate moved by whole 60 Hz samples, table in `probes.md`). The
  windowed-s0 model of fold B (trained on A, C, D) places spikes a sample late on every B
  dataset: a sample earlier its mean r is 0.738 against 0.710 (DS09 0.777 against 0.691,
  DS10 0.867 against 0.842). On fold D it places GCaMP8m spikes a sample early: DS31 0.895
  a sample later against 0.831, while the other five datasets lose by the same shift. The
  synthetic recipe narrows the gap on B (0.738 against 0.722) and leaves DS31 a sample early
  (0.918 against 0.869). The best shift differs between datasets in sign, so no fixed shift
  mends it; a diagnosis, not a setting. The spike-triggered average of the recorded ΔF/F
  (`recipe.py dataset-facts`, `half_rise_ms` in results/recipe/datasets.json: when the
  average after an isolated spike reaches half its peak) puts DS03's half-rise 32 ms
  *before* its recorded spikes at 500 Hz, where frames are 2 ms apart: some of the offset
  is in the ground truth's time stamps, which no model can learn from the trace. Elsewhere
  it runs from −4 to +88 ms (DS31 −2 ms, DS29 +2, zebrafish GCaMP6f DS06–DS08 +66 to +88);
  GCaMP6s DS15 and DS16, whose single-spike transients are small, give no clear rise.
- **The EucD loss loses** (`windowed-eucd`, seed 0): B 0.674 (mean r 0.691) against 0.679 /
  0.681 / 0.691 (0.707–0.714), C 0.774 (0.697) against 0.756 / 0.779 / 0.762 (0.665–0.696):
  level on C, below on B, most on DS11 (0.734 against 0.779–0.799). No sign of a gain
  worth a second seed. **MSE + correlation** (`windowed-corr`, seed 0, all four folds): A /
  B / C / D 0.492 / 0.681 / 0.789 / 0.752, pooled median r 0.680, mean r 0.668, median
  |bias| 0.50, against the windowed recipe's seeds 0.666 / 0.663 / 0.677, 0.676 / 0.665 /
  0.663 and 0.46 / 0.53 / 0.64: within the seed spread, a gain on C (0.789 against
  0.756–0.779) and a loss on DS03 (0.359) and DS31 (0.790 against 0.807–0.831). A second
  seed on B and C: 0.677 and 0.762, inside the windowed recipe's seeds on both; C's gain
  was chance. Not adopted.
- **Variants of the synthetic data do not rescue it; they split the folds.**
  `windowed-synth-scan` (each synthetic trial also sampled up to one frame late, as a
  scanning microscope reaches a neuron after the frame starts), seeds 0 / 1: A 0.531 /
  0.545, B 0.702 / 0.695, C 0.776 / 0.793, D 0.699 / 0.654; pooled median r 0.677 /
  0.645, mean r 0.676 / 0.667, median |bias| 0.47 / 0.62: level with the windowed recipe's
  best seeds under seed 0, below them under seed 1. It lifts the two datasets where OASIS leads the network: DS03 0.531 /
  0.553 against 0.398–0.412 (the dye whose recorded spikes trail its rise, above) and DS31
  0.898 / 0.841 against 0.807–0.831; it gains on all of fold A (+0.04) and loses all of
  fold D (DS18 0.709 / 0.651 against 0.791–0.792, DS29 0.876 / 0.831 against
  0.880–0.903). `windowed-synth25` (a quarter of the trials instead of half, seed 0): A /
  B / C / D 0.532 / 0.700 / 0.773 / 0.710, pooled median r 0.660, mean r 0.674, median
  |bias| 0.60. In all five synthetic runs on fold D, DS18 (0.651–0.778) and DS29
  (0.831–0.879) score below every windowed seed (0.791–0.792 and 0.880–0.903). None is
  adopted. One reading, not tested: the simulated indicators (rise and decay drawn
  independently, linear in spikes, white noise) resemble the GCaMP6 and GCaMP8 data more
  than the red indicators and jGCaMP7f, which they then crowd out; the next lever is a
  simulator fitted per indicator family (kinetics, nonlinearity and noise spectrum of the
  real recordings), not a larger or smaller share.

## Slower frame rates, and what no training fixes (2026-12-04, seventh round; rule set before any run)

- **Leave-one-out check of the noise-following rate scale** (`accuracy.py table`, the
  paragraph under the excitatory table): each held-out dataset's scale c · ν^slope fitted
  on the other 22 datasets' biases. The published recipe's median |bias| goes from 0.41
  to 0.49 (largest bias +2.50 to +1.22), the distilled student's from 0.30 to 0.40: the
  gain seen on the validation folds does not carry to new datasets. Not shipped.
- **Where the count goes wrong** (`recipe.py count-split`, table "Where the counted spikes
  fall": windowed-s0 on B and D, windowed-s2 on A and C; the rate summed within −250 to
  +500 ms of a recorded spike, and elsewhere, per recorded spike). Both ways: too many
  spikes per real event (DS05 2.67, DS06 2.22, DS14 1.97, DS12 1.76 near) or too few
  (DS16 0.32, DS01 0.32, DS02 0.38 near); and noise counted as spikes, most at the lowest
  frame rates (DS04 at 7.8 Hz 1.74 elsewhere per recorded spike, DS05 0.94, DS20 at 15 Hz
  0.74) and on the fast indicators (DS29 0.87, DS31 0.68). DS14 and DS16 are both GCaMP6s:
  how much ΔF/F one spike gives differs between preparations of one indicator, and a model
  that never saw the preparation cannot read it from a trace's shape, which is why no
  calibration above reaches the issue's median |bias| ≤ 0.25. The noise counted at low
  frame rates is what the next variant aims at.
- **Blurring the rate does not help** (`probes.py rate-blur`, a Gaussian over the final
  rate; windowed-s0 on B and D, windowed-s2 on A and C). Pooled over the 23 datasets, σ
  = 0 / 0.5 / 1 / 1.5 / 2 samples: median r 0.666 / 0.667 / 0.671 / 0.676 / 0.673, mean r
  0.663 / 0.665 / 0.667 / 0.667 / 0.664: within the seed spread. It lifts the datasets
  scored worst (DS03 0.405 to 0.486 at σ 2, DS15, DS16, the dyes of fold A) and costs the
  best (DS12 0.827 to 0.775, DS29 0.903 to 0.860): a blur trades one for the other.
- **Slower frame rates** (`windowed-slow`): ENS²'s largest leads over the published recipe
  in the leave-one-out table are on the two 7.8 Hz datasets (DS04 0.585 against 0.521,
  DS05 0.589 against 0.495), and most training trials are faster. The variant adds a copy
  of half the training trials sampled at 5-30 Hz (`ens2export.frame_rates`). Rule, set
  before any run, as for `windowed-synth`: it replaces the published recipe as the windowed
  recipe if, with seeds 0 and 1 on all four folds, its pooled mean r over the 23 datasets
  is above each of the windowed recipe's three seeds (so above 0.676), its pooled median
  r at least 0.677 and its median |bias| at most 0.46.
- **Outcome: `windowed-slow` fails the rule, narrowly** (all eight runs in). Pooled over
  the 23 datasets, seed 0 / 1: mean r 0.689 / 0.686 (above all three windowed seeds,
  0.663–0.676: passes), median r 0.676 / 0.674 (the bar is 0.677: fails), median |bias|
  0.47 / 0.46 (the bar is 0.46: seed 0 fails). By fold, median r against the windowed
  recipe's three seeds: A 0.581 / 0.564 against 0.479–0.520 (the 7.8 Hz DS04 0.588 / 0.564
  against 0.457–0.492, DS05 0.575 / 0.557 against 0.479–0.520), B 0.699 / 0.677 against
  0.679–0.691, C 0.794 / 0.820 against 0.756–0.779 (every GCaMP6s dataset up), D 0.743 /
  0.758 against 0.738–0.751; it loses a little on the fast indicators (DS29 0.883 / 0.860
  against 0.880–0.903, DS31 0.818 / 0.801 against 0.807–0.831). Its largest bias is +1.66 /
  +1.47 against +2.61 to +3.36, and fold D's median bias +0.26 / +0.22 against +0.56 to
  +0.69. It is the best windowed variant measured, on every measure but the pooled median,
  and it stays a variant by its own rule: the published recipe remains the windowed
  recipe. A leave-one-out column of it (`accuracy.py run --recipe windowed-slow`) reports
  how it does on new datasets and chooses nothing; a replacement needs a new rule set
  before a third seed.

## The slower-frame recipe as teacher, and with synthetic copies (2026-12-05, eighth round; rules set before any run)

- **Why these two.** In the seventh round `windowed-slow` was the best windowed variant on
  every pooled measure but the median (it gained on folds A and C), and `windowed-synth`
  gained on folds B and C and lost on D; their gains sit on different folds. The fast
  default candidate, the distilled student, inherited its teacher's accuracy in the fifth
  round. Both variants below are scored on the four validation folds only; the
  leave-one-out column of `windowed-slow` (committed before this round was set) chooses
  nothing here.
- **`conv-noise-distil1-slow`** (the student of `windowed-slow`, with slower-frame copies
  too; the fold's `windowed-slow-s0` run retrained as its teacher). Rule: it replaces
  `conv-noise-distil1` as the convolutional recipe (`ens2-exc-conv`) if, for each of seeds
  0 and 1 on all four folds, pooled over the 23 datasets, its mean r is above both
  `conv-noise-distil1` seeds (so above 0.683), its median r at least 0.664 (that recipe's
  better seed) and its median |bias| at most 0.37 (its worse seed).
- **`windowed-slow-synth`** (both copies). Rule, the bar `windowed-slow` missed: it
  replaces the published recipe as the windowed recipe if, for each of seeds 0 and 1 on
  all four folds, its pooled mean r is above 0.676, its pooled median r at least 0.677 and
  its median |bias| at most 0.46.
- **Outcome: both fail their rules** (all sixteen runs in; the four retrained teachers
  reproduced the seventh round's `windowed-slow-s0` scores exactly). Pooled over the 23
  datasets, seed 0 / 1:
  - `conv-noise-distil1-slow`: median r 0.696 / 0.675 (bar 0.664: passes), mean r 0.690 /
    0.676 (bar 0.683: seed 1 fails), median |bias| 0.46 / 0.43 (bar 0.37: both fail). It
    correlates better than `conv-noise-distil1` on folds B (0.718 / 0.700 against 0.689 /
    0.676) and D (0.758 / 0.758 against 0.740 / 0.735) and as well on A, and inherits its
    teacher's counts: every fold's median bias is positive (A +0.46 / +0.07, B +0.39 /
    +0.37), and a global rate scale fitted on the other folds leaves 0.42 / 0.46. The
    student stays `conv-noise-distil1`.
  - `windowed-slow-synth`: mean r 0.692 / 0.688 (bar 0.676: passes; the highest windowed
    means measured), median r 0.656 / 0.673 (bar 0.677: both fail), median |bias| 0.48 /
    0.44 (bar 0.46: seed 0 fails). Its gains are on fold A (median 0.610 / 0.598 against
    0.581 / 0.564 for `windowed-slow`; the 7.8 Hz DS05 0.634 / 0.613) and it costs on fold D
    (DS29 0.806 with seed 0). The published recipe remains the windowed recipe.
- **A trace's own events do not calibrate its count** (`probes.py event-scale A`–`D`,
  windowed-slow-s0; table in `probes.md`). The idea: estimate from a neuron's rate what one
  spike looks like (u: a low quantile of its event sizes, as run sums above the spike
  fit's threshold or as peak heights) and divide the rate by c · u, so a preparation whose
  ΔF/F per spike the model misjudges is calibrated from its own isolated events. It needs
  u to follow k, the rate's total over the recorded spikes. Over each fold's neurons the
  correlation of log u with log k is 0.06–0.17 on A, 0.14–0.59 on B, −0.13–0.24 on C and
  −0.41 to −0.62 on D, and the spread of log k never shrinks: sd 1.15 / 0.61 / 0.74 / 0.76
  before, at best 1.25 / 0.63 / 0.80 / 1.35 after dividing by u (the spread after does not
  depend on c, so no fitted constant does better). On fold D the fast indicators (DS29,
  DS31: k 2.3–2.5) give the smallest run-sum u (0.24–0.89), so the model's events are many small ones, not
  fewer large ones: an over-count there is more events, not larger ones. Not shipped.

## Which part of the slower-frame student helped (2026-12-05, ninth round; rule set before any run)

- **Why.** `conv-noise-distil1-slow` changed two things at once: its teacher
  (`windowed-slow` instead of the published recipe) and its own training trials (a
  slower-frame copy of half of them). It correlates better than `conv-noise-distil1` and
  counts worse, and its teacher counts as badly (median |bias| 0.47 / 0.46). The shipped
  student's teacher is `ens2-exc-native` (the published recipe), whose student counts best
  of all variants (0.36 / 0.37); so the slower copies with that teacher may keep the
  gain in correlation without the teacher's counts, and would ship without a new teacher.
- **`conv-noise-distil1-slowcopy`** (teacher the fold's `windowed-s0` run, retrained; a
  slower-frame copy of half the student's trials, labelled by that teacher). Rule, the
  eighth round's for the student unchanged: it replaces `conv-noise-distil1` as the
  convolutional recipe (`ens2-exc-conv`) if, for each of seeds 0 and 1 on all four folds,
  pooled over the 23 datasets, its mean r is above 0.683, its median r at least 0.664 and
  its median |bias| at most 0.37.
- **Outcome: it fails, on every count** (all eight runs in; the four retrained teachers
  reproduced the committed `windowed-s0` scores exactly). Pooled over the 23 datasets, seed
  0 / 1: mean r 0.677 / 0.656 (bar 0.683), median r 0.681 / 0.658 (bar 0.664: seed 1
  fails), median |bias| 0.49 / 0.48 (bar 0.37), largest bias +5.85 / +4.84 (DS04). The
  published teacher, which never saw slow frames, labels the slowed copies with too many
  spikes, and the student learns it: at 7.8 Hz DS04 +5.85 / +4.84 and DS05 +3.74 / +2.99,
  at 15 Hz DS20 +1.34 / +0.97, against `conv-noise-distil1`'s fold-A median bias −0.07 /
  +0.22. Fold C loses too (0.733 / 0.640 against 0.756 / 0.763); B and D are level or
  up (B 0.722 / 0.693). So the slower copies help a student only through a teacher trained
  on them (`conv-noise-distil1-slow`), and that teacher's counts come with them. The
  student stays `conv-noise-distil1`.

## A seed ensemble of the distilled student (2026-12-05, tenth round; rule set before the runs on folds A and D)

- **Why.** Seed ensembles gained on every fold and kind measured (second round), and the
  distilled student runs over whole traces, so two of them still cost far less than one
  windowed model. Its ensemble was scored on folds B and C in the fifth round (median r
  0.687 / 0.766 against seeds 0.689 / 0.676 and 0.756 / 0.763; mean r 0.715 on B against
  0.712 / 0.704) and never on A and D, so it was never pooled, and no second student was
  trained on all data to ship it.
- **`conv-noise-distil1-x2`** (`recipe.py ensemble FOLD conv-noise-distil1`: the rates of
  seeds 0 and 1 averaged; the A and D students retrained with their fold's `windowed-s0`
  teacher, as the committed runs were). Rule, set with B and C in: it replaces the single
  student as `ens2-exc-conv` if, pooled over the 23 datasets, its mean r is above both
  seeds' (0.681 / 0.683, so above 0.683), its median r at least the better seed's (0.664)
  and its median |bias| at most the worse seed's (0.37). Then a second student (seed 1) is
  trained on all data with the same teacher (`ens2-exc-native`) and the shipped model runs
  both and averages their rates; the speed table reports what that costs.
- **Outcome: it fails** (the A and D students retrained and reproducing their committed
  scores exactly). Pooled over the 23 datasets: mean r 0.688 (bar 0.683: passes), median r
  0.660 (bar 0.664: fails), median |bias| 0.39 (bar 0.37: fails). Per fold, median r A 0.566
  / D 0.743 against seeds 0.561 / 0.562 and 0.740 / 0.735. Averaging two students lifts the
  mean a little, not the median, and their counts do not average towards the truth. The
  single student stays `ens2-exc-conv`. The tools built for it stay: `ens2export onnx RUN
  RUN` writes a seed ensemble as one graph (whole-trace and streaming), `ens2export unpack`
  turns a shipped model back into its run, `accuracy.py --recipe <recipe>-x2` scores one
  held out. A second all-data student (seed 1) was trained while the folds ran and is not
  shipped.

## Amplitude augmentation of the distilled student (2026-12-05, eleventh round; rule set before any run)

- **Why.** The issue lists ΔF/F amplitude scaling among the augmentations to try, and it
  was built (`--gain`) but never measured. The distilled student's teacher, the published
  windowed network, normalises every window after its first convolution, so its rates do
  not change when a trace is multiplied by a constant; the student reads the trace divided
  by its noise std, so it does. A preparation whose ΔF/F per spike the training data lack
  (DS14 counted +2.9 in leave-one-out) reaches the student at an amplitude it never saw;
  scaling each training input by a random factor with the teacher's rates as targets
  teaches the student the teacher's own invariance, which may carry its correlation to new
  preparations; it may also cost the counts the student reads from amplitude.
- **`conv-noise-distil1-gain`** (as `conv-noise-distil1`, each training input after its
  noise-std scaling multiplied by a factor drawn log-uniformly from 1/2 to 2; the fold's
  `windowed-s0` run retrained as its teacher). Rule, the tenth round's for the student: it
  replaces `conv-noise-distil1` as the convolutional recipe (`ens2-exc-conv`) if, for each
  of seeds 0 and 1 on all four folds, pooled over the 23 datasets, its mean r is above 0.683
  (both `conv-noise-distil1` seeds), its median r at least 0.664 (the better seed) and its
  median |bias| at most 0.37 (the worse seed). Seed 0 runs first on all four folds; if it
  misses any of the three bars the variant fails and seed 1 is not run.
- **Outcome: it fails on all three bars with seed 0**, so seed 1 was not run. Pooled over
  the 23 datasets: median r 0.652 (bar 0.664), mean r 0.650 (bar 0.683), median |bias| 0.44
  (bar 0.37). Per fold, median r A / B / C / D 0.510 / 0.685 / 0.692 / 0.727 against the
  committed student seeds 0.561, 0.562 / 0.689, 0.676 / 0.756, 0.763 / 0.740, 0.735. The
  amplitude the student reads carries what it knows: with it blurred, the counts go up where
  one spike's ΔF/F differs from the training data (DS04 +3.26, DS05 +2.17, zebrafish
  GCaMP6f DS06 / DS07 +2.42 / +2.58, DS14 +2.92) and the correlation falls most there (DS04
  0.419, DS14 0.678). The student stays `conv-noise-distil1`.
- **The four teachers were retrained on another machine and did not reproduce** (an
  AVX-512 CPU; seeded runs are exact on one machine only, so `run.json` now records torch's
  version and the CPU's instruction set). `windowed-s0` median r A / B / C / D 0.482 /
  0.679 / 0.767 / 0.737 against the committed 0.520 / 0.679 / 0.756 / 0.738 (fold A stopped
  at 1165 steps instead of 2042; the others at the same step with other rounding). So a
  control was run beside it, reported here and not committed as a result (its file would
  replace the committed seed 0): `conv-noise-distil1` seed 0 with the same retrained
  teachers (`recipe.py run FOLD conv-noise-distil1 --seed 0 --threads 1`) scores A / B / C
  / D 0.558 / 0.688 / 0.757 / 0.724, pooled median r 0.663, mean r 0.676, median |bias|
  0.35: within the committed seeds' spread, and above the augmented student on 17 of the 23
  datasets (below on 5, level on DS29), by 0.14 on DS04 and 0.08 on DS14. The loss is the
  augmentation's, not the teachers'.
- **One thing it did change**: its count errors became one factor. A global rate scale
  fitted on the other three folds (table "a global rate scale") is 0.81–0.88 on all four
  and brings its median |bias| from 0.44 to 0.24, below the issue's 0.25, where the same
  scale leaves `conv-noise-distil1` at 0.42 / 0.39 (factors 0.76–1.08) and the control above
  at 0.36 (0.35 unscaled; factors 0.87–0.94; computed with `rate_scale` on its four JSONs,
  not committed). One seed, seen after
  the rule was set and not part of it; it costs 0.03 of mean r, so it chooses nothing. A
  reading to test with a rule of its own: a student made indifferent to amplitude counts
  too many spikes by a steady factor, which one constant learned on training data corrects.
- **A milder augmentation, screened (rule set 2026-12-05 before any run).** If the steady
  factor comes with amplitude augmentation and the correlation loss with its strength, a
  milder one may keep the first without the second. `conv-noise-distil1-gain125` (factor
  1/1.25 to 1.25), seed 0, the same retrained teachers as the control above, all four
  folds. It passes the screen if, pooled over the 23 datasets, its mean r is at least the
  control's 0.676, its median r at least the control's 0.663, and its median |bias| under a
  rate scale fitted on the other three folds (`rate_scale`, as in the table "a global rate
  scale") at most 0.25. A pass decides nothing by itself: it earns seed 1 under the tenth
  round's bars, with the scale then part of the recipe; a miss ends the line.
- **Outcome: it misses all three** (all four folds in). Pooled median r 0.656 (screen
  0.663), mean r 0.664 (0.676), median |bias| 0.46, 0.44 under the fold-fitted scale
  (factors 0.80–1.04; screen 0.25). Milder, it loses less correlation and none of the
  steady factor survives: the counts stay as scattered as the control's (DS04 +2.90, DS05
  +2.14, DS06 / DS07 +1.63 / +1.73, DS14 +1.41). Amplitude augmentation of the student
  ends here.

## Spike counts from a second student (2026-12-06, twelfth round; rule set before any run)

- **Why.** The one run whose count errors were a single factor is `conv-noise-distil1-gain`
  seed 0 (above): the global rate scale fitted on the other three folds (0.81–0.88) took its
  median |bias| from 0.44 to 0.24, the only run under the issue's 0.25, while its
  correlation fell below the control's. That was seen after its round's rule was set, on
  one seed. If it holds, the two jobs can be split between two students: the rate's shape
  from `conv-noise-distil1`, each trace's total from the amplitude-augmented student times
  the fold-fitted factor. Scaling one trace's rate changes none of its correlation, and a
  rate rescaled to another's total has that other's CASCADE bias, so the pair would score
  the control's r with the augmented student's scaled bias; both are read from the runs'
  JSONs (table "a global rate scale"). Two convolutional networks still run far faster than
  the published pipeline (`speed_cpu.md`: the convolutional model 177× it).
- **Test: fresh seeds.** `conv-noise-distil1-gain` seeds 1 and 2 on all four folds
  (`recipe.py run FOLD conv-noise-distil1-gain --seed S --threads 1`), the teachers the
  fold's `windowed-s0` runs retrained on this machine, as for seed 0. It passes if under
  *both* seeds the median |bias| pooled over the 23 datasets, each fold scaled by the factor
  fitted on the other three (`rate_scale`), is at most 0.25. A pass earns the leave-one-out
  check of the pair (a gain student for each of the 23 folds) before anything ships; a
  miss under either seed ends the line, and seed 0's 0.24 stands as chance. Reported beside
  it, deciding nothing: the largest scaled bias against the issue's +1.0 (seed 0: +2.49).
- **Outcome: it fails on seed 1, so seed 2 was stopped** (its four runs killed unfinished;
  nothing of them is reported). Seed 1, pooled over the 23 datasets: median |bias| 0.46 as
  trained and 0.49 under the fold-fitted scale (factors 0.83 / 0.79 / 0.66 / 1.00: no
  longer one factor), largest +3.10 scaled (DS04 +3.93, DS05 +2.30 as trained); median r
  0.634, mean r 0.648. Seed 0's steady factor was chance, and the pair of students is not
  built. The four teachers reproduced last session's retrained ones exactly (median r A /
  B / C / D 0.482 / 0.679 / 0.767 / 0.737, stopping at 1165 / 846 / 1836 / 1693 steps).
- **A screen of the student's schedule (rule set 2026-12-06 before any run).** The
  student's targets are a deterministic function of its input (the teacher's rates), so
  the step-to-step noise a constant learning rate leaves is the student's alone;
  annealing it may bring the student closer to its teacher where the teacher is right.
  With truth as targets a cosine schedule was level (`conv-noise-cosine`).
  `conv-noise-distil1-cosine` (as `conv-noise-distil1`, the learning rate decaying to
  zero along a half cosine over its 1500 steps), seed 0, all four folds, the same
  retrained teachers as the eleventh round's control (0.663 / 0.676 / 0.35). It passes the
  screen if, pooled over the 23 datasets, its median r and mean r are at least the
  control's and its median |bias| at most the control's. A pass earns seed 1 under the
  tenth round's bars; a miss ends the line.
- **Outcome: it misses the screen on counts** (all four folds in). Pooled over the 23
  datasets: median r 0.675 (control 0.663), mean r 0.676 (0.676, level), median |bias| 0.45
  (0.35), largest +2.43; per fold median r A / B / C / D 0.543 / 0.691 / 0.731 / 0.739. The
  annealed student correlates as well as the control or better on the pooled median, but
  counts worse, so the line ends here; one seed, and a median r 0.012 above the control is
  within what seeds move it.
- **Noticed while checking inputs: the convolutional student reads a ΔF/F baseline offset
  as spiking** (the demo neuron, ν 0.40, trained on; `ens2rt.infer(dff + offset)`).
  Spikes counted at offsets −0.2 / −0.1 / 0 / +0.05 / +0.1 / +0.2: `ens2-exc-conv` 341 /
  379 / 411 / 476 / 603 / 1333, the windowed default 312 / 318 / 331 / 336 / 337 / 345. A
  baseline 0.1 off (about three noise std) adds half the count again. Baseline errors of
  that size are common in ΔF/F from real pipelines, so a variant that removes the trace's
  baseline before the student (in training and in the contract alike) is a lever not yet
  tried; it would also touch the count errors above.
- **A screen of a baseline-blind student (rule set 2026-12-06 before any run).** The
  lever above, in the form that keeps one contract for every entry point: the network
  takes its input less the input's mean over a centred 97-sample window (an AveragePool
  and a subtraction in the graph, so offline, dask and a stream compute the same; reach
  99 instead of 51, 288-sample training windows as `conv-local`'s). The windowed teacher
  removes each 96-sample window's mean too, so the student loses nothing its teacher
  reads. Away from a trace's ends a constant offset then changes no rate. Before any run
  the datasets' baselines were looked at (10th percentile of each trial in noise std,
  median per dataset): from −1.1 (DS02) to +1.8 (DS06) against −1.3 for noise about
  zero, so the training data carry baselines of their own; across the 23 datasets that
  figure correlates only weakly with the control student's bias (r = 0.29), so a large
  gain in counts is not expected. `conv-noise-distil1-baseline97`, seed 0, all four folds,
  the same retrained teachers as the control (0.663 / 0.676 / 0.35). It passes the screen
  if, pooled over the 23 datasets, its median r and mean r are at least the control's and
  its median |bias| at most the control's; a pass earns seed 1 under the tenth round's
  bars, a miss ends the line. Reported beside it, deciding nothing: spikes counted on
  the fold-D student's held-out DS31 trials with the ΔF/F lifted by 0 and 0.1.
- **Outcome: it misses the screen on every measure** (all four folds in; the four
  teachers retrained on this machine reproduced the control's exactly: median r A / B / C
  / D 0.482 / 0.679 / 0.767 / 0.737, stopping at 1165 / 846 / 1836 / 1693 steps). Pooled
  over the 23 datasets: median r 0.651 (control 0.663), mean r 0.648 (0.676), median
  |bias| 0.41 (0.35); per fold median r A / B / C / D 0.559 / 0.661 / 0.709 / 0.723
  against the control's 0.558 / 0.688 / 0.757 / 0.724. The line ends. Against
  `conv-noise-distil1-cosine` s0 (the same teachers; its per-dataset scores are
  committed, the control's are not) it is above on 8 datasets, level on DS29 and below
  on 14, and the losses sit on the slow indicators: GCaMP6s DS15 / DS16 0.347 / 0.325
  against 0.505 / 0.502, zebrafish GCaMP6f DS06 / DS07 0.516 / 0.563 against 0.650 /
  0.623, GCaMP5k DS17 0.704 against 0.752. A sliding mean over 97 samples (1.6 s) is a
  high-pass filter that takes away the slow part of a transient lasting about as long,
  where the teacher's per-window normalisation subtracts one mean from a whole window and
  keeps the transient's shape inside it (the likely cause, not tested apart). It gains on
  the 7.8 Hz Cal520 DS05 (0.609 against 0.529) and OGB-1 DS03 (0.506 against 0.423).
  Reported, deciding nothing: it is blind to the offset as built. On fold D's held-out
  trials, with the ΔF/F lifted by 0.1, the count per recorded spike stays 1.23 on DS31
  (the plain student 1.15 → 1.20) and 0.66 on DS20 (1.10 → 1.86); DS19 moves 1.11 → 1.19
  (1.29 → 3.02). What still moves is at trial ends, where the zeros the runtime puts
  outside a recording meet the lifted trace: away from the ends the rates agree to 1e-7
  (synthetic traces at 7.8–500 Hz). The
  rate floor fitted on three folds takes its median |bias| from 0.41 to 0.33
  (`probes.md`), short of 0.25 as on the other two runs.
- **A screen of a slower local mean (rule set 2026-12-06 before any run).** If the
  97-sample mean lost by taking away slow transients, a mean over 385 samples (6.4 s,
  several GCaMP6s decay times) keeps them and still cancels a constant offset:
  `conv-noise-distil1-baseline385` (reach 243, 592-sample training windows, the smallest
  allowed that cover it), seed 0, first on folds B and C, where the 97-sample mean lost
  most (zebrafish GCaMP6f, GCaMP6s), with the same retrained teachers as the control. It
  passes this part if on both folds its median r is at least the control's (B 0.688, C
  0.757); a pass earns folds A and D and the thirteenth round's screen pooled over the 23
  datasets (0.663 / 0.676 / 0.35), a miss ends the line. Reported, deciding nothing: its
  DS15 / DS16 against the 97-sample mean's 0.347 / 0.325.
- **Outcome: it misses on both folds; the line ends** (folds A and D not run). Median r
  B 0.685 (control 0.688), C 0.732 (0.757); mean r B 0.687, C 0.642. A slower mean wins
  back part of what the 97-sample one lost on the slow indicators and not most of it:
  DS15 / DS16 0.409 / 0.367 (97 samples: 0.347 / 0.325; the cosine student on the same
  teachers 0.505 / 0.502), DS17 0.750 (0.704; 0.752), zebrafish GCaMP6f DS06 / DS07
  0.541 / 0.545 (0.516 / 0.563; 0.650 / 0.623). So the high-pass explains only part of
  the loss: on GCaMP6s the level of the trace itself (likely, not tested apart), not only its shape over a second
  or two, carries what the student uses (a sustained rate lifts the baseline of a slow
  indicator). Each run took 65 min of training on one thread beside another run
  (twice the 97-sample mean's 288-sample windows). A baseline-blind student is not
  pursued further.

## Time-stretch of the windowed recipe, with true spikes as targets (2026-12-06, fourteenth round; rule set before any run)

- **Why.** Where a held-out indicator's spikes fall is a large part of what it costs
  (sixth round, `probes.py output-shift`): the fold-B windowed model places every B
  dataset's spikes a sample late, the fold-D one places GCaMP8m (DS31) a sample early
  (0.831 as placed, 0.895 a sample later), and the spike-triggered rise runs from −4 to
  +88 ms across datasets. How long after a spike a transient rises, and how fast, follows
  the indicator's kinetics; the published recipe sees only the kinetics of its training
  datasets. Time-stretch augmentation (each window's time axis, input and targets
  together, scaled by a factor drawn log-uniformly from 1/1.5 to 1.5) shows it other
  kinetics with the timing that goes with them. It was measured only on students
  (`conv-noise-distil1-stretch`, fold D, no gain), whose targets are the teacher's rates and
  so carry the teacher's timing; with true spikes as targets, on the windowed recipe that
  teaches every student, it was never run.
- **`windowed-stretch`** (the published recipe, each training window stretched so; the
  targets the true spikes moved to their stretched times and smoothed with the usual
  kernel, `WindowSource.stretched`). Rule, the windowed recipe's from the sixth to eighth
  rounds unchanged: it replaces the published recipe as the windowed recipe (the
  default's and the students' teacher) if, for each of seeds 0 and 1 on all four folds,
  pooled over the 23 datasets, its mean r is above 0.676, its median r at least 0.677 and
  its median |bias| at most 0.46. Seed 0 runs first on all four folds; if it misses any of
  the three bars the variant fails and seed 1 is not run. Reported beside it, deciding
  nothing: the published recipe's seed 0 retrained on this machine with the same code
  (`recipe.py run FOLD windowed --seed 0 --threads 1`, not committed: its files would
  replace the committed seed 0), DS31 and the fold-B median.
- **Outcome: it misses all three bars with seed 0**, so seed 1 was not run. Pooled over
  the 23 datasets: median r 0.655 (bar 0.677), mean r 0.661 (bar 0.676), median |bias|
  0.59 (bar 0.46), largest +1.98 (DS20). Per fold, median r A / B / C / D 0.493 / 0.658 /
  0.780 / 0.743. The control retrained beside it (A / B / C / D 0.521 / 0.690 / 0.763 /
  0.741, stopping at 1010 / 846 / 1836 / 1693 steps; this machine rounds differently from
  the last one, which gave 0.482 / 0.679 / 0.767 / 0.737) pools to 0.674 / 0.674 / 0.50;
  the stretched recipe is above it on 6 datasets, level (within 0.005) on 3 and below on
  14. It gains on GCaMP6s and GCaMP5k of fold C (DS12 0.836 against 0.810, DS14 0.769
  against 0.741) and on the dye DS03 (0.447 against 0.422), and loses on every mouse and
  zebrafish GCaMP6f dataset of fold B, the fold whose spikes the plain recipe places late
  (DS09 0.661 against 0.707, DS11 0.749 against 0.782), and on the red indicators (DS20
  0.583 against 0.658). It does not mend GCaMP8m's timing: on DS31 0.807 (control
  0.798), and a sample later 0.881 (control 0.885; `probes.py output-shift D --variant
  windowed-stretch`, table in `probes.md`), so it still places those spikes a sample
  early. Stretched kinetics with their timing do not teach the network where a new
  indicator's spikes fall; the timing a held-out indicator costs is not a matter of the
  kinetics the training data span. The line ends.

## Noise members trained over bands (2026-12-06, fifteenth round; rule set before any run)

- **Why.** The recipe issue asks for noise members each trained on a range of ν around its
  level, and this was never run for the windowed members the default family ships. Each
  shipped member sees every window lifted to exactly its ν, yet the family hands it
  every trace whose estimated ν is nearer its level than the next one's: the ν = 2
  member takes traces from ν ≈ 1.3 up, where it scores below the native member (the
  issue's complaint), and the ν = 4 member traces from 3 to 5. A member trained over the
  range it will be handed may fit those traces better.
- **`windowed-band2` … `windowed-band8`** (as the shipped members' recipe, `windowed-nu2` …
  `windowed-nu8`: the published network for a fixed 1600 steps; every window lifted to
  its own ν drawn uniformly from level − 1 to level + 1, windows already noisier left as
  they are). Both families have the fold's `windowed-s0` run as their native member and
  choose each trial's member by the runtime's rule (the member nearest its estimated ν;
  a banded member sits at its band's centre). Fold D, seed 0, all eight members trained
  on this machine, scored as recorded and degraded to ν = 2, 3, 5 and 7 (the lowest
  member's level and three between members' levels; `recipe.py noise D --base windowed
  --member windowed-band2 … --level 2 --level 3 --level 5 --level 7`, the same with the
  `-nu` members). Rule: the banded family passes if its median r is at least the exact
  family's in every condition and above it by at least 0.01 in one, and as recorded at
  least the native member alone's. A pass earns the noise benchmark's two folds
  (`noise.py`) with banded members, which would then decide whether the shipped members
  are retrained; a miss ends the line.
- **Outcome: it misses** (all eight members trained on this machine; the native member
  the fold's `windowed-s0` run retrained this session, 0.741). Median r of the banded
  family against the exact one, as recorded / ν = 2 / 3 / 5 / 7: 0.743 / 0.672 / 0.579 /
  0.466 / 0.423 against 0.734 / 0.659 / 0.528 / 0.476 / 0.440. Ahead up to ν = 3 (by
  0.051 at ν = 3, where the exact ν = 2 and 4 members meet traces between their levels),
  behind at ν = 5 and 7 (−0.010, −0.017). As recorded the banded family is above the
  native member alone (0.743 against 0.741) and the exact one below it (0.734), the
  recipe issue's complaint about the ν = 2 member reproduced. The banded members lose
  where traces are noisy: trained also on quieter windows, a ν = 6 or 8 member is a
  weaker denoiser at its own level. The gain below ν ≈ 3 comes from the ν = 2 member,
  the one that takes traces from ν ≈ 1.3 up.
- **A follow-up on a fresh fold (rule set 2026-12-06 after fold D's result, before any
  fold-B run).** Fold D chose it, so it is tested where nothing was chosen: a family
  whose ν = 2 member is `windowed-band2` and whose ν = 4, 6 and 8 members stay the exact
  ones, against the exact family, on fold B, seed 0, the fold's `windowed-s0` run as the
  native member, all members trained on this machine; scored as recorded and at ν = 2
  and 3 (from ν = 4 up both families hand every trace to the same members). It passes if
  its median r is at least the exact family's in all three conditions and as recorded at
  least the native member alone's. A pass earns the two-fold noise benchmark (`noise.py`)
  with the banded ν = 2 member before the shipped `ens2-exc-nu2` is retrained; a miss
  ends the line.
- **Outcome: it passes on fold B** (the fold's native member `windowed-s0`, retrained
  this session, sits at ν 0.947, so traces from ν ≈ 1.47 go to the ν = 2 member). Median
  r of the family with the banded ν = 2 member against the exact family, as recorded / ν
  = 2 / ν = 3: 0.690 / 0.588 / 0.544 against 0.690 / 0.574 / 0.540 (as recorded both equal
  to the native member alone's 0.690: only some DS06 trials reach the ν = 2 member there,
  0.656 against 0.657). At ν = 2 it is ahead on all six datasets (DS11 0.667 against 0.641,
  DS08 0.572 against 0.551), at ν = 3 on two (DS11 0.623 against 0.582, DS09) and within 0.001 on four. One seed, one fold; what
  it earned is the two-fold noise benchmark (`noise.py`, which needs a banded member
  option first) with the banded ν = 2 member, not yet run: nothing ships from this round.
- **The two-fold noise benchmark (rule set 2026-12-06 before any of its runs was scored).**
  `noise.py`'s folds (A = every other excitatory dataset from DS01, B = the rest; a
  fold's models trained on the other half, so no dataset is scored by a model that saw
  it), every model trained on this machine, seed 0: per fold the `windowed` model (the
  native member), `windowed-nu2`, `windowed-band2`, `windowed-nu4`, `-nu6` and `-nu8`
  (`noise.py train --recipe VARIANT`). Two families that differ only in their ν = 2
  member, the exact one (`noise.py score --recipe windowed --member windowed-nu2 --member
  windowed-nu4 --member windowed-nu6 --member windowed-nu8`) and the banded one (the same
  with `--member windowed-band2`), and the native member alone (`noise.py score --recipe
  windowed`), on all 23 excitatory datasets as recorded and degraded to ν = 2, 4, 6 and 8.
  Rule: the banded family passes if its median over datasets of the median r is at least
  the exact family's in all five conditions and above it at ν = 2 (where the two differ),
  and as recorded at least the native member alone's. A pass retrains the shipped
  `ens2-exc-nu2` over ν 1–3 (`ens2export train ... --noise-band 1 3`, all else as its card
  records), shipped with a card citing this result; a miss ends the line.
- **Outcome: it passes** (all six models per fold trained on this machine, seed 0; results
  in `noise/windowed/`, `noise/windowed-family/` and `noise/windowed-family+band2+nu4+nu6+nu8/`,
  tabled in `noise.md`). Median over the 23 datasets of the median r, banded family /
  exact family / native member alone: as recorded 0.657 / 0.648 / 0.648; ν = 2 0.592 /
  0.580 / 0.532; ν = 4, 6, 8 0.530 / 0.470 / 0.423 for both families (no trace reaches the
  ν = 2 member there). As recorded 126 of 996 trials go to the banded member (and 126 to
  the exact one in the other family); it gains on DS06 (0.608 against the exact family's
  0.597 and the native member's 0.537) and DS20 (0.664 / 0.646 / 0.630) and loses on DS18
  (0.793 / 0.811 / 0.772), DS29 (0.880 / 0.890 / 0.870) and DS31 (0.852 / 0.845 / 0.860,
  here the native member alone is best). At ν = 2 it is ahead on 12 datasets and behind on
  11 (most: DS04 0.453 against 0.407, DS17 0.743 against 0.704; least: DS10 0.788 against
  0.817, DS12 0.769 against 0.799): the median gain is real but not on every dataset.
  Both families' native members, retrained here, score 0.648 alone as recorded where the
  family tabled first in `noise.md` (trained 2026-12-03 on another machine, same recipe
  and seed) has 0.671: the rows of one session compare with each other, not with that
  one. What ships is the ν = 2 member: `ens2-exc-band2`, the published network trained on
  all 23 excitatory datasets over ν 1–3 for 1600 steps, takes `ens2-exc-nu2`'s place in
  the default family `ens2-exc`; `ens2-exc-nu2` stays in `ens2-exc-mixed`, whose benchmark
  was measured with it.
- **The same swap for `ens2-exc-mixed` (rule set 2026-12-07 before any of its runs).**
  `ens2-exc-mixed` (the distilled student for quiet traces, windowed noise members above)
  still holds the exact `ens2-exc-nu2`, so the two shipped families hand a trace at ν ≈ 2
  to different members. Measured on the same two folds: each fold's native member
  retrained (`noise.py train --fold X --native-only`, the student's teacher), its student
  (`noise.py train --fold X --recipe conv-noise-distil1`), and the student scored with
  either ν = 2 member beside the same ν = 4, 6 and 8 members (`noise.py score --recipe
  conv-noise-distil1 --member windowed-band2|windowed-nu2 --member windowed-nu4 --member
  windowed-nu6 --member windowed-nu8`). Rule: `ens2-exc-band2` replaces `ens2-exc-nu2` in
  `ens2-exc-mixed` if, over the 23 datasets, the banded mixed family's median r is at
  least the exact one's as recorded and at every ν; otherwise `ens2-exc-mixed` keeps
  `ens2-exc-nu2`, and the result is recorded either way.
- **Outcome: it passes** (both folds' native members retrained here reproduce last
  session's `windowed` runs bit for bit, so the noise members beside them are this
  machine's too; results in `noise/conv-noise-distil1-family+windowed-band2+…` and
  `…+windowed-nu2+…`, tabled in `noise.md`). Median over the 23 datasets, banded / exact
  mixed family: as recorded 0.667 / 0.646, ν = 2 0.592 / 0.580, ν = 4, 6, 8 0.530 /
  0.470 / 0.423 for both (the same members run). As recorded 126 of 996 trials go to the
  ν = 2 member and 853 to the student: 4 datasets gain (DS20 0.667 against 0.646, DS04
  0.489 against 0.468), 2 lose (DS18 0.795 against 0.813, DS29 0.874 against 0.887),
  17 are identical; the median moves by 0.021 because DS20, which gains, is the median
  dataset. At ν = 2 12 gain and 11 lose, as for the windowed families. `ens2-exc-mixed`
  now holds `ens2-exc-band2`; `ens2-exc-nu2`, in no family any more, is no longer
  shipped. This session's student scores below the 2026-12-03 one inside its family
  (0.667 as recorded against 0.700 for the family tabled first, with other noise members):
  the two were taught by native members trained on different machines, and only rows
  trained together compare.

## Early stopping on validation loss (2026-12-07, sixteenth round; rule set before any run)

- **Why.** The recipe issue lists early stopping on validation loss as the alternative to
  the published rule, which stops 500 steps after the luckiest single batch: the windowed
  runs above end anywhere between 552 and 2352 steps, and which seed stops where is part
  of their spread. A fixed budget with a cosine schedule was level (`windowed-cosine`,
  second round); stopping on held-out data was never measured.
- **`windowed-valstop`** (the published recipe; an eighth of every training dataset's
  neurons, evenly spaced, held out of training, from datasets of four neurons or more;
  their MSE on 8192 fixed windows measured every 50 steps; patience 500 steps on it; the
  weights of the best check returned; `ens2export.train.ValidationCheck`). The held-out
  neurons are of the run's own training datasets, never of the fold it is scored on.
- **Rule.** Seed 0 on all four folds, against the published recipe's seed 0 trained on
  this machine type (the fold runs cached from the fourteenth round, A / B / C / D 0.521 /
  0.690 / 0.763 / 0.741, pooled median r 0.674, mean r 0.674, median |bias| 0.50, if fold
  B's retrained beside this round stops at the same 846 steps; otherwise all four
  retrained and those used). It passes the screen if, pooled over the 23 datasets, its
  median r and mean r are each at least 0.01 above the control's and its median |bias| is
  at most the control's. A pass earns seed 1 under the seventh round's bars (mean r above
  0.676, median r at least 0.677, median |bias| at most 0.46, for each seed); a miss ends
  the line.
- **Outcome: it misses all three bars** (all four folds in; fold B's control retrained
  beside it stopped at the same 846 steps with identical weights, so the cached controls
  stand). Pooled over the 23 datasets, against the control: median r 0.660 (0.674), mean
  r 0.665 (0.674), median |bias| 0.57 (0.50). Per fold A / B / C / D 0.492 / 0.690 /
  0.759 / 0.752 against 0.521 / 0.690 / 0.763 / 0.741; above the control on 7 datasets,
  level (within 0.005) on 6, below on 10, most on the dyes (DS04 0.447 against 0.521,
  DS02 0.509 against 0.571) and zebrafish GCaMP6f (DS06 0.616 against 0.648). The
  held-out neurons' loss kept falling long after the batch rule stops: best checks at
  750 / 2950 / 2500 / 2550 steps (runs of 1250 / 3450 / 3000 / 3050), against the
  control's 1010 / 846 / 1836 / 1693. New neurons of the training indicators reward
  training on; new indicators do not, and spike counts grow (DS14 +1.85 against +0.66,
  DS20 +1.52 against +0.83). Stopping on neurons of datasets already seen measures the
  wrong generalisation; a split of whole datasets would cost the training data that
  held-out folds already lack. The line ends.

## Inference-time probes (2026-11-29; `benchmarks/probes.py`, table in `probes.md`)

- **A tapered overlap-add does not buy a larger hop** (`probes.py overlap-weights B` and `D`,
  windowed-s0). Weighting each window's outputs by sin² of their position (a window's
  centre trusted over its edges) instead of uniformly: mean r on B / D at hop 48, 0.697 /
  0.734 against 0.696 / 0.738 uniform; at hop 16, 0.707 / 0.742, still below hop 6 uniform
  (0.710 / 0.752). What a small hop gains is the average over many windows, each
  normalised on its own, not better window edges; the windowed default's speed cannot
  come from a larger hop without that loss (0.014 mean r at hop 48).
- **Averaging a convolutional model over its pooling phases gains little**
  (`probes.py phase-ensemble B` and `C`, conv-noise-s0): the input shifted by 0–7 samples
  and the outputs averaged, mean r on B / C with 1, 2, 4, 8 phases 0.660 / 0.613, 0.661 /
  0.613, 0.662 / 0.615, 0.662 / 0.616: +0.002 to +0.003 for 4–8× the cost, against a
  0.05–0.08 gap to the windowed recipe. The windowed model's edge is not a phase ensemble.
- **Smoothing a convolutional model's output does not close it either**
  (`probes.py output-smoothing B` and `C`, conv-noise-s0): a Gaussian of σ = 1 / 2 / 3
  samples over the rate, mean r on B 0.665 / 0.663 / 0.653 against 0.660 unsmoothed, on C
  0.609 / 0.598 / 0.583 against 0.613. It helps the slow GCaMP6s datasets a little (DS15,
  DS16) and costs the others; the conv output is not just a noisier windowed output.
- **A floor under the rate (rule set 2026-12-06 before any run).** "Where the count goes
  wrong" above found noise counted as spikes, a low rate far from any recorded spike (up
  to 1.7 spikes elsewhere per recorded spike). `probes.py rate-floor FOLD`: the rate less
  a constant θ of 0 / 0.0025 / 0.005 / 0.01 / 0.02 spikes per 60 Hz sample, clipped at
  zero; θ fitted on three folds (least median |bias| over their datasets) and applied to
  the fourth (`fitted_floor_rows`). Scored on two student runs already in the cache, each
  on all four folds: `conv-noise-distil1-cosine` s0 and `conv-noise-distil1-gain` s1
  (students like the shipped one; the control student's runs are no longer cached), and on
  `conv-noise-distil1-baseline97` s0 when it is in. It passes if on both cached runs the
  fitted floor brings the pooled median |bias| to at most 0.25 while pooled median r and
  mean r fall by at most 0.005 from the unfloored run's. A pass makes it a per-model
  calibration on the card, fitted on validation runs of the shipped recipe, to be checked
  in leave-one-out before it ships; a miss ends the line.
- **Outcome: it misses the bar on both runs** (`probes.md`, table "rate-floor, fitted on
  three folds"). Pooled median |bias| 0.45 → 0.35 (`conv-noise-distil1-cosine` s0, floors
  per held-out fold A–D 0.01 / 0.005 / 0.0025 / 0.005) and 0.46 → 0.36
  (`conv-noise-distil1-gain` s1, 0.01 / 0.01 / 0.02 / 0.01), short of 0.25. Correlation
  does not suffer: median r 0.675 → 0.676 and 0.634 → 0.653, mean r 0.676 → 0.675 and
  0.648 → 0.648. The floor takes a tenth off the median |bias| on both runs, but the
  datasets that count too many by far (DS04 +3.9, DS05 +2.3, DS06 +1.9, DS14 +2.0 on
  gain s1) keep most of it at any floor (DS04 +1.6 at 0.02) while those that count too
  few lose more: what is left is the per-preparation spike size noted above, not noise.
  The line ends as the rule says; a floor is not made a calibration.

## Low latency (2026-11-29: fold D; 0 and 50 ms one seed, 100 ms two)

- The online variants are conv-noise with the output delayed so it reads at most L samples
  ahead, trained and run on linearly resampled traces. L = 0 / 3 / 6 samples (0 / 50 /
  100 ms) score 0.247 / 0.433 / 0.612 (seeds 0.600, 0.623), against 0.712 for conv-noise
  offline. The 150 ms budget at 30 Hz (one frame for the linear resampler) admits 100 ms,
  so the shipped `ens2-exc-online` uses L = 6; the latency table is
  `benchmarks/results/latency.md`.
- **More steps do not close the gap** (2026-11-29, `online-100ms-3000`, two seeds): 3000
  steps score 0.548 / 0.608 (mean 0.578) against 0.600 / 0.623 (0.612) at 1500, so the
  shipped online models keep 1500. Not tried yet: a longer training context and a causal
  smoothing of the target (ENS²'s option).

## Online noise members (2026-11-29: fold D, seed 0) — they lose; not shipped

- `online-100ms` trained with noise lifting every trace to ν = 4 and ν = 8 (added before
  the noise-std input scaling, 1500 steps each) score 0.440 and 0.411 on fold D as recorded.
- As a family with the native model (`recipe.py noise D`: each trial on the member nearest
  its estimated ν, the native model at its training data's typical ν): as recorded 0.595
  against 0.600 alone; degraded to ν = 4, **0.325 against 0.399 (−0.074)**; at ν = 8, 0.196
  against 0.164 (+0.032). The members lose at ν = 4, the level of the noisiest common
  recordings, and gain a little only at ν = 8.
- So the online models stay single models: dividing the input by its noise std already
  carries one model across noise levels better than members trained at one level. One
  seed; members trained over a band of ν (the recipe issue's suggestion) are not tried.
"""
OUT = RESULTS / "recipe"
DATASET_FACTS = OUT / "datasets.json"  # each dataset's typical ν and frame rate (`dataset-facts`)
RUNS = CACHE / "runs" / "recipe"
app = typer.Typer(add_completion=False, no_args_is_help=True)


def score_fold(model, datasets: list[str], noise_level: float | None = None) -> dict:
    """Median correlation and bias per dataset of ``datasets`` (every neuron, all its trials), run by ens2rt.

    ``model``: anything ``ens2rt.infer`` runs, or a list of them (a seed ensemble: their
    rates averaged). ``noise_level``: each trial first degraded to that ν by white noise at
    its native rate (``benchmarks/noise.py``'s ``degrade``, same seeds), as a noisier
    microscope would.
    """
    from benchmarks.noise import degrade
    from ens2export.groundtruth import find_datasets, load_dataset
    from ens2rt.scoring import true_rate_at_60hz, correlation, error_and_bias

    import ens2rt

    members = model if isinstance(model, list) else [model]
    scores = {}
    for key, folder in find_datasets(GROUND_TRUTH, include=datasets).items():
        rows = []
        for number, neuron in enumerate(load_dataset(folder)):
            neuron = degrade(neuron, noise_level, seed=int(key[2:]) * 1000 + number)
            rates, truths = [], []
            for trial in neuron.trials:
                if trial.dff.size * 60.0 / trial.frame_rate < 96:
                    continue
                rate = np.mean([ens2rt.infer(trial.dff, trial.frame_rate, model=member, spikes=False, input_checks=False).rate[0]
                                for member in members], axis=0)  # fmt: skip
                rates.append(rate)
                truths.append(true_rate_at_60hz(trial.spike_times, rate.size))
            if rates:
                rate, truth = np.concatenate(rates), np.concatenate(truths)
                rows.append((correlation(rate, truth), error_and_bias(rate, truth)[1]))
        scores[key] = {"correlation": median(r[0] for r in rows), "bias": median(r[1] for r in rows), "n_neurons": len(rows)}
    return scores


def export_run(folder: Path, settings, threads: int):
    """The run's weights as an ONNX model with its card, loaded as the runtime loads any model."""
    from ens2export.card import write_model

    import ens2rt

    with np.load(folder / "weights.npz") as archive:
        weights = {key: archive[key] for key in archive.files}
    write_model(weights, folder / "model.onnx", name=f"recipe-{folder.parent.name}-{folder.name}", cell_class="excitatory",
                description="validation run", training={}, **settings.export_fields())  # fmt: skip
    return ens2rt.Model.load(folder / "model.onnx", device="cpu", threads=threads)


def load_run(fold: str, variant: str, seed: int, threads: int):
    """A finished run's model, exported and loaded as the runtime loads any model, and its run.json."""
    from ens2export.train import TrainSettings

    folder = RUNS / fold / f"{variant}-s{seed}"
    info = json.loads((folder / "run.json").read_text())
    return export_run(folder, TrainSettings.from_dict(info["settings"]), threads), info


def save_record(name: str, record: dict) -> None:
    """One result JSON in benchmarks/results/recipe/, with the command that made it."""
    record["command"] = "python benchmarks/recipe.py " + " ".join(sys.argv[1:])
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")


@app.command()
def run(
    fold: Annotated[str, typer.Argument(help="Validation fold: A, B, C or D.")],
    variant: Annotated[str, typer.Argument(help=f"One of {', '.join(VARIANTS)}.")],
    seed: Annotated[int, typer.Option(help="Training seed.")] = 0,
    threads: Annotated[int, typer.Option(help="CPU threads for training and scoring.")] = 2,
) -> None:
    """Train VARIANT on the three other folds and score it on FOLD."""
    os.environ["OMP_NUM_THREADS"] = str(threads)  # before torch loads; ens2export's trainer keeps an explicit count
    from ens2export.dataset import load_windows, load_windows_and_validation
    from ens2export.train import TrainSettings, as_teachers, save_run, train

    held_out, (fields, what) = FOLDS[fold], VARIANTS[variant]
    training = [d for d in EXCITATORY if d not in held_out]
    fields = dict(fields)
    teacher_run = fields.pop("teacher_run", None)
    if teacher_run is not None:  # runs of the same fold (so they never saw FOLD either) teach; several: rates averaged
        teachers = []
        for name in as_teachers(teacher_run):
            teacher_variant, teacher_seed = name.rsplit("-s", 1)
            load_run(fold, teacher_variant, int(teacher_seed), threads)  # exports its model if not yet
            teachers.append(str(RUNS / fold / name / "model.onnx"))
        fields["teacher"] = teachers[0] if len(teachers) == 1 else tuple(teachers)
    settings = TrainSettings(seed=seed, **fields)
    validation = None
    if settings.validation_share:  # neurons of the training datasets, never of FOLD
        source, validation = load_windows_and_validation(GROUND_TRUTH, training, settings.validation_share, settings.resampler)
    else:
        source = load_windows(GROUND_TRUTH, include=training, resampler=settings.resampler)
    started = time.perf_counter()
    result = train(source, settings, device="cpu", validation=validation)
    folder = RUNS / fold / f"{variant}-s{seed}"
    save_run(folder, source, settings, result, " ".join(sys.argv))
    scores = score_fold(export_run(folder, settings, threads), held_out)
    record = {
        "fold": fold, "variant": variant, "seed": seed, "what": what, "settings": settings.as_dict(),
        "trained_on": training, "steps": result.steps, "train_time_s": round(result.wall_time_s, 1),
        **({} if result.best_step is None else {"best_step": result.best_step}),
        "total_time_s": round(time.perf_counter() - started, 1), "scores": scores,
        "median_correlation": median(s["correlation"] for s in scores.values()),
    }  # fmt: skip
    save_record(f"{fold}-{variant}-s{seed}", record)
    typer.echo(f"{fold} {variant} seed {seed}: median r {record['median_correlation']:.3f} ({result.steps} steps)")


@app.command()
def ensemble(
    fold: Annotated[str, typer.Argument(help="Validation fold whose runs to score: A, B, C or D.")],
    variant: Annotated[str, typer.Argument(help="Variant whose seeds to average.")],
    seed: Annotated[list[int], typer.Option(help="Seeds to average (repeat; their runs must exist).")] = [0, 1],
    threads: int = 2,
) -> None:
    """Score FOLD with the rates of VARIANT's seed runs averaged (a seed ensemble), as one more row of the table."""
    runs = [load_run(fold, variant, member, threads) for member in seed]
    models, steps = [model for model, _ in runs], [str(info["steps"]) for _, info in runs]
    started = time.perf_counter()
    scores = score_fold(models, FOLDS[fold])
    name = f"{variant}-x{len(seed)}"
    record = {
        "fold": fold, "variant": name, "seed": "+".join(map(str, seed)), "what": f"{variant}, rates of seeds {seed} averaged",
        "members": [f"{variant}-s{member}" for member in seed], "steps": "+".join(steps),
        "score_time_s": round(time.perf_counter() - started, 1), "scores": scores,
        "median_correlation": median(s["correlation"] for s in scores.values()),
    }  # fmt: skip
    save_record(f"{fold}-{name}", record)
    typer.echo(f"{fold} {name}: median r {record['median_correlation']:.3f}")


@app.command()
def noise(
    fold: Annotated[str, typer.Argument(help="Validation fold whose runs to score: A, B, C or D.")],
    base: Annotated[str, typer.Option(help="The native-noise variant.")] = "online-100ms",
    member: Annotated[list[str], typer.Option(help="Noise-member variants (repeat).")] = ["online-100ms-nu4", "online-100ms-nu8"],
    level: Annotated[list[float], typer.Option(help="Noise levels to degrade the fold to (repeat).")] = [4.0, 8.0],
    seed: int = 0,
    threads: int = 2,
) -> None:
    """Score FOLD as recorded and degraded to each level: BASE alone against the family of BASE and MEMBERs.

    The family is what ens2rt runs for a family: each trial on the member whose ν is
    nearest the trial's estimated ν (BASE sits at the typical ν of its training data).
    Members may be of another kind than BASE (a convolutional BASE, windowed members).
    """
    from ens2export.card import write_model
    from ens2export.dataset import load_windows
    from ens2export.train import TrainSettings

    import ens2rt

    models = []
    for variant in [base, *member]:
        folder = RUNS / fold / f"{variant}-s{seed}"
        info = json.loads((folder / "run.json").read_text())
        settings = TrainSettings.from_dict(info["settings"])
        at = settings.matched_level
        if at is None:  # a native-noise member sits at the typical ν of its training data
            at = load_windows(GROUND_TRUTH, include=info["datasets"], resampler=settings.resampler).typical_noise_level()
        with np.load(folder / "weights.npz") as archive:
            weights = {key: archive[key] for key in archive.files}
        out = folder / "family-member.onnx"
        write_model(weights, out, name=f"{variant}-s{seed}", cell_class="excitatory", description="validation family member",
                    training={}, family=f"{base}-family", noise_level=round(float(at), 3),
                    **settings.export_fields())  # fmt: skip
        models.append(ens2rt.Model.load(out, device="cpu", threads=threads))
    family = ens2rt.ModelFamily.from_models(f"{base}-family", models)
    conditions = {}
    for condition in [None, *level]:
        name = "native" if condition is None else f"nu{condition:g}"
        alone, matched = score_fold(models[0], FOLDS[fold], condition), score_fold(family, FOLDS[fold], condition)
        conditions[name] = {
            "alone": {"scores": alone, "median_correlation": median(s["correlation"] for s in alone.values())},
            "family": {"scores": matched, "median_correlation": median(s["correlation"] for s in matched.values())},
        }
        typer.echo(f"{fold} {name}: {base} alone {conditions[name]['alone']['median_correlation']:.3f}, "
                   f"family {conditions[name]['family']['median_correlation']:.3f}")  # fmt: skip
    record = {
        "fold": fold, "base": base, "members": member, "seed": seed,
        "member_levels": {m.name: m.noise_level for m in family.members}, "conditions": conditions,
    }  # fmt: skip
    save_record(noise_record_name(fold, base, member, seed), record)


def noise_record_name(fold: str, base: str, members: list[str], seed: int) -> str:
    """The `noise` record's name: plain for BASE with its own ν = 4 and 8 members, else the members appended."""
    own_pair = list(members) == [f"{base}-nu4", f"{base}-nu8"]
    return f"noise-{fold}-{base}-s{seed}" + ("" if own_pair else "+" + "+".join(members))


@app.command()
def robustness(
    fold: Annotated[str, typer.Argument(help="Validation fold whose runs to score: A, B, C or D.")],
    variant: Annotated[list[str], typer.Option(help="Variants to compare, each run alone (repeat).")],
    level: Annotated[list[float], typer.Option(help="Noise levels to degrade the fold to (repeat).")] = [4.0, 8.0],
    seed: int = 0,
    threads: int = 2,
) -> None:
    """Score single models of FOLD as recorded and degraded to each level (same degradation as `noise`)."""
    models = {name: load_run(fold, name, seed, threads)[0] for name in variant}
    conditions = {}
    for condition in [None, *level]:
        label = "native" if condition is None else f"nu{condition:g}"
        conditions[label] = {}
        for name, model in models.items():
            scores = score_fold(model, FOLDS[fold], condition)
            conditions[label][name] = {"scores": scores, "median_correlation": median(s["correlation"] for s in scores.values())}
            typer.echo(f"{fold} {label}: {name} {conditions[label][name]['median_correlation']:.3f}")
    save_record(f"robustness-{fold}-s{seed}", {"fold": fold, "variants": variant, "seed": seed, "conditions": conditions})


def robustness_lines(record: dict) -> list[str]:
    """The table of one `robustness` run."""
    datasets = FOLDS[record["fold"]]
    lines = [f"## Single models across noise, fold {record['fold']} held out, seed {record['seed']} (`{record['command']}`)", "",
             "| condition | variant | " + " | ".join(datasets) + " | median r |", "|---|---|" + "---|" * len(datasets) + "---|"]  # fmt: skip
    for condition, entries in record["conditions"].items():
        for name, entry in entries.items():
            cells = [f"{entry['scores'][d]['correlation']:.3f}" for d in datasets]
            lines.append(f"| {condition} | {name} | " + " | ".join(cells) + f" | **{entry['median_correlation']:.3f}** |")
    return lines + [""]


def runs_over_all_folds(records: list[dict], seeds_only: bool = False) -> list[tuple[str, str | int, dict[str, dict]]]:
    """(variant, seed, each fold's scores) for every variant and seed with a run on all four folds.

    ``seeds_only``: single seeds only, no seed ensembles (whose seed reads like "0+1").
    """
    runs = {(r["variant"], r["seed"], r["fold"]): r for r in records}
    pairs = {(v, s) for v, s, _ in runs if isinstance(s, int) or not seeds_only}
    return [(variant, seed, {fold: runs[variant, seed, fold]["scores"] for fold in FOLDS})
            for variant, seed in sorted(pairs, key=lambda pair: (pair[0], str(pair[1])))
            if all((variant, seed, fold) in runs for fold in FOLDS)]  # fmt: skip


def pooled_lines(records: list[dict]) -> list[str]:
    """Each variant's runs that cover all four folds, pooled: every dataset scored by the model that never saw its fold."""
    lines = ["## All four folds pooled (23 datasets, each scored by a model that never saw its fold)", "",
             "| variant | seed | median r | mean r | median \\|bias\\| |", "|---|---|---|---|---|"]  # fmt: skip
    for variant, seed, by_fold in runs_over_all_folds(records):
        scores = [score for fold in FOLDS for score in by_fold[fold].values()]
        r = [s["correlation"] for s in scores]
        lines.append(f"| {variant} | {seed} | {np.median(r):.3f} | {np.mean(r):.3f} | {np.median([abs(s['bias']) for s in scores]):.2f} |")
    return lines + [""]


def rate_scale(biases: list[float]) -> float:
    """The factor c on the rate that minimises the median |bias| of datasets with these median biases.

    CASCADE's bias of a non-negative rate is sum(rate) / sum(truth) − 1, so scaling the rate
    by c turns a dataset's median bias B into c (1 + B) − 1; c is found on a 0.01 grid.
    """
    ratios = 1.0 + np.asarray(biases)
    grid = np.round(np.arange(0.2, 3.0, 0.01), 2)
    return float(grid[np.argmin([np.median(np.abs(c * ratios - 1.0)) for c in grid])])


def noise_rate_scale(biases: list[float], levels: list[float]) -> tuple[float, float]:
    """The rate scale c · ν^slope (ν: a dataset's typical noise level) that minimises the median |bias|.

    As :func:`rate_scale`, with the factor allowed to follow ν; the slope is found on a
    0.05 grid from −2 to 2 and c, for each slope, by :func:`rate_scale`.
    """
    ratios, levels = 1.0 + np.asarray(biases), np.asarray(levels, dtype=float)
    best = (np.inf, 1.0, 0.0)
    for slope in np.round(np.arange(-2.0, 2.0001, 0.05), 2):
        tilt = levels**slope
        factor = rate_scale(list(ratios * tilt - 1.0))
        best = min(best, (float(np.median(np.abs(factor * tilt * ratios - 1.0))), factor, float(slope)))
    return best[1], best[2]


def noise_calibration_lines(records: list[dict], datasets: dict[str, dict]) -> list[str]:
    """Cross-fold check of a rate scale that follows the dataset's noise level (the global one: :func:`calibration_lines`)."""
    lines = ["## Spike counts: a rate scale that follows the noise level, fitted on three folds and applied to the fourth", "",
             "As above, the factor c · ν^slope (ν: the dataset's typical noise level, `python benchmarks/recipe.py",
             "dataset-facts`) fitted on the other three folds (`noise_rate_scale`; the global scale is the table above).",
             "Spearman ρ: rank correlation over the 23 datasets of the bias as trained with ν and with the frame rate.", "",
             "| variant | seed | slopes | median \\|bias\\| as trained | ν scale | largest bias as trained | ν scale | ρ(bias, ν) | ρ(bias, frame rate) |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    from scipy.stats import spearmanr

    for variant, seed, scores in runs_over_all_folds(records, seeds_only=True):
        if not all(key in datasets for fold in FOLDS for key in scores[fold]):
            continue
        raw, tilted, slopes = [], [], []
        for fold in FOLDS:
            others = [(s["bias"], datasets[key]["noise_level"]) for other in FOLDS if other != fold for key, s in scores[other].items()]
            factor, slope = noise_rate_scale([b for b, _ in others], [level for _, level in others])
            slopes.append(f"{slope:+.2f}")
            for key, s in scores[fold].items():
                raw.append(s["bias"])
                tilted.append(factor * datasets[key]["noise_level"] ** slope * (1 + s["bias"]) - 1)
        keys = [key for fold in FOLDS for key in scores[fold]]
        rho_noise = spearmanr(raw, [datasets[key]["noise_level"] for key in keys])[0]
        rho_rate = spearmanr(raw, [datasets[key]["frame_rate"] for key in keys])[0]
        lines.append(f"| {variant} | {seed} | {', '.join(slopes)} | {np.median(np.abs(raw)):.2f} | {np.median(np.abs(tilted)):.2f} "
                     f"| {max(raw):+.2f} | {max(tilted):+.2f} | {rho_noise:+.2f} | {rho_rate:+.2f} |")  # fmt: skip
    return lines + [""]


def calibration_lines(records: list[dict]) -> list[str]:
    """Cross-fold check of a global rate scale: fitted on three folds' validation biases, applied to the fourth."""
    lines = ["## Spike counts: a global rate scale, fitted on three folds and applied to the fourth", "",
             "Median |bias| over the 23 datasets, each fold's runs scaled by the factor that minimises median |bias| on",
             "the other three folds' runs of the same variant and seed (`rate_scale`; factors per held-out fold A, B, C, D).", "",
             "| variant | seed | factors | median \\|bias\\| as trained | scaled | largest bias as trained | scaled |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for variant, seed, scores in runs_over_all_folds(records, seeds_only=True):
        biases = {fold: [s["bias"] for s in scores[fold].values()] for fold in FOLDS}
        raw, scaled, factors = [], [], []
        for fold in FOLDS:
            factor = rate_scale([b for other in FOLDS if other != fold for b in biases[other]])
            factors.append(f"{factor:.2f}")
            raw += biases[fold]
            scaled += [factor * (1 + b) - 1 for b in biases[fold]]
        lines.append(f"| {variant} | {seed} | {', '.join(factors)} | {np.median(np.abs(raw)):.2f} | {np.median(np.abs(scaled)):.2f} "
                     f"| {max(raw):+.2f} | {max(scaled):+.2f} |")  # fmt: skip
    return lines + [""]


def validation_entry(records: list[dict], variant: str, baseline: str = "windowed") -> dict:
    """``variant``'s validation runs per fold and seed (median r of the fold's datasets), beside ``baseline``'s."""
    def by_fold(name: str) -> dict:
        folds = {}
        for r in records:
            if r["variant"] == name and isinstance(r["seed"], int):
                folds.setdefault(r["fold"], {})[str(r["seed"])] = round(r["median_correlation"], 3)
        return folds

    mine, theirs = by_fold(variant), by_fold(baseline)
    if not mine:
        raise typer.BadParameter(f"no finished validation run of {variant}", param_hint="VARIANT")
    ensembles = {}  # the variant's seed ensembles (`ensemble FOLD VARIANT`): median r per fold
    for r in records:
        if r["variant"].startswith(f"{variant}-x") and r["variant"][len(variant) + 2 :].isdigit():
            ensembles.setdefault(r["variant"], {"seeds": r["seed"], "folds": {}})["folds"][r["fold"]] = round(r["median_correlation"], 3)
    return {
        "protocol": "benchmarks/recipe.py: trained on the other three folds, scored on the held-out fold ("
        + "; ".join(f"{fold}: {', '.join(keys)}" for fold, keys in FOLDS.items()) + "), median per-neuron correlation",
        "command": f"python benchmarks/recipe.py run FOLD {variant} --seed S; python benchmarks/recipe.py run FOLD {baseline} --seed S",
        "table": "benchmarks/results/recipe.md",
        "folds": {fold: {"this_recipe": mine[fold], f"{baseline}_recipe_same_split": theirs.get(fold, {})} for fold in sorted(mine)},
        **({} if not ensembles else {"seed_ensembles": {name: {**entry, "command": f"python benchmarks/recipe.py ensemble FOLD {variant}",
                                                               "folds": dict(sorted(entry["folds"].items()))}
                                                        for name, entry in sorted(ensembles.items())}}),
    }  # fmt: skip


@app.command()
def card(
    variant: Annotated[str, typer.Argument(help="The recipe the shipped model was trained with.")],
    model: Annotated[str, typer.Argument(help="The shipped model (models/NAME.json) whose card gets the recipe's validation.")],
) -> None:
    """Write VARIANT's validation runs (every fold and seed, beside the windowed recipe's) into MODEL's card."""
    from benchmarks.common import REPO, put_scores_in_card

    path = REPO / "models" / f"{model}.json"
    if not path.is_file():
        raise typer.BadParameter(f"no shipped model {model} (models/{model}.json)", param_hint="MODEL")
    records = [json.loads(p.read_text()) for p in sorted(OUT.glob("[A-D]-*.json"))]
    put_scores_in_card(path, {"validation_of_the_recipe": validation_entry(records, variant)})
    typer.echo(f"{path}: validation of {variant} written")


def spike_triggered_half_rise(neurons, before_s: float = 0.5, after_s: float = 0.3, step_s: float = 0.002) -> float:
    """When, after an isolated recorded spike, the average ΔF/F first reaches half its peak (s; negative: before the spike).

    Isolated: no other spike within ``before_s`` before or ``after_s`` after. Each trace is
    read between frames by linear interpolation (frame k at k / frame rate, as the ground
    truth counts spike times) on a grid of ``step_s``, from 0.2 s before to 0.3 s after the
    spike, less its mean over the first 0.1 s; the half-rise is the last crossing of half
    the peak (the largest value from 0.1 s before the spike on) before that peak. NaN if
    no spike is isolated or the average never rises. Kinetics and time stamps together: a
    half-rise before the spike says the recorded spike times run late.
    """
    offsets = np.arange(-0.2, 0.3 + step_s / 2, step_s)
    segments = []
    for neuron in neurons:
        for trial in neuron.trials:
            spikes = np.sort(np.asarray(trial.spike_times, float))
            gap_before, gap_after = np.diff(np.r_[-np.inf, spikes]), np.diff(np.r_[spikes, np.inf])
            times = np.arange(trial.dff.size) / trial.frame_rate
            for spike in spikes[(gap_before > before_s) & (gap_after > after_s)]:
                if spike + offsets[0] >= 0 and spike + offsets[-1] <= times[-1]:
                    segment = np.interp(spike + offsets, times, np.asarray(trial.dff, float))
                    segments.append(segment - segment[offsets < -0.1].mean())
    if not segments:
        return float("nan")
    average = np.nanmean(segments, axis=0)
    peak = int(np.argmax(np.where(offsets >= -0.1, average, -np.inf)))  # the transient's peak, not an earlier tail
    below = np.flatnonzero(average[:peak] < 0.5 * average[peak])
    return float(offsets[below[-1] + 1]) if below.size else float("nan")  # the last half-peak crossing before the peak


@app.command("dataset-facts")
def dataset_facts() -> None:
    """Write each excitatory dataset's typical noise level ν, median frame rate and half-rise time after a recorded spike."""
    from ens2export.dataset import load_windows
    from ens2export.groundtruth import find_datasets, load_dataset

    facts = {}
    for key in EXCITATORY:
        source = load_windows(GROUND_TRUTH, include=[key])
        half_rise = spike_triggered_half_rise(load_dataset(find_datasets(GROUND_TRUTH, include=[key])[key]))
        facts[key] = {"noise_level": round(source.typical_noise_level(), 3), "frame_rate": round(float(np.median(source.frame_rates)), 2),
                      "half_rise_ms": round(half_rise * 1000.0, 1)}  # fmt: skip
    DATASET_FACTS.write_text(json.dumps(facts, indent=1) + "\n")
    typer.echo(f"wrote {DATASET_FACTS}")


#: around a recorded spike (s): where a spike's transient is, so where the rate for it should be
NEAR_SPIKE_S = (-0.25, 0.5)


def split_rate(rate: np.ndarray, spike_times: np.ndarray, near: tuple[float, float] = NEAR_SPIKE_S) -> tuple[float, float]:
    """The 60 Hz ``rate`` summed near recorded spikes (``near`` around each of ``spike_times``, s) and elsewhere."""
    close = np.zeros(rate.size, dtype=bool)
    for spike in spike_times:
        close[max(0, int(np.floor((spike + near[0]) * 60.0))) : max(0, int(np.ceil((spike + near[1]) * 60.0)))] = True
    return float(rate[close].sum()), float(rate[~close].sum())


@app.command("count-split")
def count_split(
    fold: Annotated[str, typer.Argument(help="Validation fold whose run to score: A, B, C or D.")],
    variant: Annotated[str, typer.Argument(help="Variant of the finished run.")] = "windowed",
    seed: int = 0,
    threads: int = 1,
) -> None:
    """Where a run's counted spikes fall on FOLD: near recorded spikes, or elsewhere, per recorded spike.

    A count off because each real event gets too many (or few) spikes shows near; one off
    because noise is counted shows elsewhere. Per dataset: the median over neurons.
    """
    from ens2export.groundtruth import find_datasets, load_dataset

    import ens2rt

    model, _ = load_run(fold, variant, seed, threads)
    per_dataset = {}
    for key, folder in find_datasets(GROUND_TRUTH, include=FOLDS[fold]).items():
        rows = []
        for neuron in load_dataset(folder):
            near = elsewhere = recorded = 0.0
            for trial in neuron.trials:
                if trial.dff.size * 60.0 / trial.frame_rate < 96:
                    continue
                rate = ens2rt.infer(trial.dff, trial.frame_rate, model=model, spikes=False, input_checks=False).rate[0]
                spikes = trial.spike_times[(trial.spike_times >= -0.5 / 60) & (trial.spike_times < rate.size / 60.0)]
                close, far = split_rate(rate, spikes)
                near, elsewhere, recorded = near + close, elsewhere + far, recorded + spikes.size
            if recorded:
                rows.append((near / recorded, elsewhere / recorded))
        per_dataset[key] = {"neurons": len(rows), "near_per_spike": median(r[0] for r in rows), "elsewhere_per_spike": median(r[1] for r in rows)}
        typer.echo(f"{key}: near {per_dataset[key]['near_per_spike']:.2f}, elsewhere {per_dataset[key]['elsewhere_per_spike']:.2f} per recorded spike")
    save_record(f"counts-{fold}-{variant}-s{seed}", {"fold": fold, "run": f"{variant}-s{seed}", "near_s": list(NEAR_SPIKE_S), "per_dataset": per_dataset})


def count_split_lines(records: list[dict]) -> list[str]:
    """The table of every ``count-split`` record: rate near recorded spikes and elsewhere, per recorded spike."""
    if not records:
        return []
    lines = ["## Where the counted spikes fall (`python benchmarks/recipe.py count-split FOLD VARIANT --seed S`)", "",
             "Per dataset, the median over neurons of the rate summed within −250 to +500 ms of a recorded spike (near)",
             "and outside (elsewhere), each divided by the recorded spikes: a model that counts right has near ≈ 1 and",
             "elsewhere ≈ 0.", "", "| fold | run | dataset | neurons | near per spike | elsewhere per spike |", "|---|---|---|---|---|---|"]  # fmt: skip
    for record in records:
        for key, row in record["per_dataset"].items():
            lines.append(f"| {record['fold']} | {record['run']} | {key} | {row['neurons']} | {row['near_per_spike']:.2f} | {row['elsewhere_per_spike']:.2f} |")
    return lines + [""]


@app.command("offset-counts")
def offset_counts(
    fold: Annotated[str, typer.Argument(help="Validation fold whose run to score: A, B, C or D.")],
    variant: Annotated[str, typer.Argument(help="Variant of the finished run.")] = "windowed",
    seed: int = 0,
    offset: Annotated[list[float], typer.Option(help="ΔF/F added to every trial (repeat).")] = [0.0, 0.1],
    threads: int = 1,
) -> None:
    """How a run's spike count on FOLD moves when every trial's ΔF/F is lifted by a constant (a baseline error).

    Per dataset: the rate summed over all its trials (the spikes a model counts) per recorded spike, at each offset.
    """
    from ens2export.groundtruth import find_datasets, load_dataset

    import ens2rt

    model, _ = load_run(fold, variant, seed, threads)
    per_dataset = {}
    for key, folder in find_datasets(GROUND_TRUTH, include=FOLDS[fold]).items():
        counted, recorded = np.zeros(len(offset)), 0
        for neuron in load_dataset(folder):
            for trial in neuron.trials:
                if trial.dff.size * 60.0 / trial.frame_rate < 96:
                    continue
                for index, lift in enumerate(offset):
                    rate = ens2rt.infer(trial.dff + lift, trial.frame_rate, model=model, spikes=False, input_checks=False).rate[0]
                    counted[index] += np.nansum(rate)
                recorded += int(np.sum((trial.spike_times >= -0.5 / 60) & (trial.spike_times < rate.size / 60.0)))
        per_dataset[key] = {"recorded": recorded, "counted_per_spike": [round(float(c) / recorded, 3) for c in counted]}
        typer.echo(f"{key}: " + ", ".join(f"{lift:+g}: {c:.2f}" for lift, c in zip(offset, per_dataset[key]["counted_per_spike"])))
    save_record(f"offsets-{fold}-{variant}-s{seed}", {"fold": fold, "run": f"{variant}-s{seed}", "offsets": list(offset), "per_dataset": per_dataset})


def offset_count_lines(records: list[dict]) -> list[str]:
    """The table of every ``offset-counts`` record: counted spikes per recorded spike with the ΔF/F lifted."""
    if not records:
        return []
    offsets = records[0]["offsets"]
    lines = ["## Spike counts under a baseline offset (`python benchmarks/recipe.py offset-counts FOLD VARIANT --seed S`)", "",
             "Per held-out dataset, the rate summed over its trials per recorded spike, with every trial's ΔF/F lifted by",
             "a constant: a model blind to the baseline counts the same in every column.", "",
             "| fold | run | dataset | " + " | ".join(f"{lift:+g}" for lift in offsets) + " |", "|---|---|---|" + "---|" * len(offsets)]  # fmt: skip
    for record in records:
        if record["offsets"] != offsets:
            raise ValueError(f"offset-counts records with different offsets ({record['offsets']} and {offsets}): rerun them alike")
        for key, row in record["per_dataset"].items():
            lines.append(f"| {record['fold']} | {record['run']} | {key} | " + " | ".join(f"{c:.2f}" for c in row["counted_per_spike"]) + " |")
    return lines + [""]


@app.command()
def table() -> None:
    """Write benchmarks/results/recipe.md from the finished runs."""
    records = [json.loads(p.read_text()) for p in sorted(OUT.glob("[A-D]-*.json"))]
    noise_records = [json.loads(p.read_text()) for p in sorted(OUT.glob("noise-*.json"))]
    robustness_records = [json.loads(p.read_text()) for p in sorted(OUT.glob("robustness-*.json"))]
    count_records = [json.loads(p.read_text()) for p in sorted(OUT.glob("counts-*.json"))]
    offset_records = [json.loads(p.read_text()) for p in sorted(OUT.glob("offsets-*.json"))]
    lines = [
        "# Recipe validation (grouped folds inside the excitatory training data)",
        "",
        "Regenerate: `python benchmarks/recipe.py table` (runs: `python benchmarks/recipe.py run FOLD VARIANT --seed S`).",
        "Each run trains on three folds and is scored on the fourth (folds in `benchmarks/recipe.py`); median over",
        "the fold's datasets of the median per-neuron correlation, and their mean (steadier over five or six datasets);",
        "bias: CASCADE's, median per dataset. Only finished runs are listed; these numbers choose settings, the",
        "leave-one-out and noise tables report.",
        "",
    ]
    for fold in FOLDS:
        chosen = [r for r in records if r["fold"] == fold]
        if not chosen:
            continue
        datasets = FOLDS[fold]
        lines += [f"## Fold {fold} held out ({', '.join(datasets)})", "",
                  "| variant | seed | steps | " + " | ".join(datasets) + " | median r | mean r | median bias |",
                  "|---|---|---|" + "---|" * len(datasets) + "---|---|---|"]  # fmt: skip
        for r in sorted(chosen, key=lambda r: (r["variant"], r["seed"])):
            cells = [f"{r['scores'][d]['correlation']:.3f}" for d in datasets]
            bias = median(s["bias"] for s in r["scores"].values())
            mean = np.mean([r["scores"][d]["correlation"] for d in datasets])
            lines.append(f"| {r['variant']} | {r['seed']} | {r['steps']} | " + " | ".join(cells)
                         + f" | **{r['median_correlation']:.3f}** | {mean:.3f} | {bias:+.2f} |")  # fmt: skip
        by_variant: dict[str, list[float]] = {}
        for r in chosen:
            by_variant.setdefault(r["variant"], []).append(r["median_correlation"])
        lines += ["", "Mean over runs: " + ", ".join(f"{v} {np.mean(s):.3f} ({len(s)})" for v, s in sorted(by_variant.items())), ""]
    for r in noise_records:
        datasets = FOLDS[r["fold"]]
        levels = ", ".join(f"{name} {value:g}" for name, value in r["member_levels"].items())
        lines += [f"## Noise members, fold {r['fold']} held out (`{r['command']}`)", "",
                  f"Family members and their ν: {levels}. Each trial runs on the member nearest its estimated ν.", "",
                  "| condition | contender | " + " | ".join(datasets) + " | median r |",
                  "|---|---|" + "---|" * len(datasets) + "---|"]  # fmt: skip
        for condition, contenders in r["conditions"].items():
            for who in ("alone", "family"):
                entry = contenders[who]
                label = r["base"] + " alone" if who == "alone" else "family"
                cells = [f"{entry['scores'][d]['correlation']:.3f}" for d in datasets]
                lines.append(f"| {condition} | {label} | " + " | ".join(cells) + f" | **{entry['median_correlation']:.3f}** |")
        lines += [""]
    lines += pooled_lines(records)
    for record in robustness_records:
        lines += robustness_lines(record)
    lines += calibration_lines(records)
    if DATASET_FACTS.is_file():
        lines += noise_calibration_lines(records, json.loads(DATASET_FACTS.read_text()))
    lines += count_split_lines(count_records)
    lines += offset_count_lines(offset_records)
    lines += [FINDINGS]
    lines += ["## Variants", ""] + [f"- `{name}`: {what}" for name, (_, what) in VARIANTS.items()] + [""]
    (RESULTS / "recipe.md").write_text("\n".join(lines))
    typer.echo(f"wrote {RESULTS / 'recipe.md'}")


if __name__ == "__main__":
    app()
