"""Quantal calibration of an inferred rate: how much rate one spike gives in *this* neuron.

After Rupprecht et al. (bioRxiv 2025, GCaMP8 ground truth), proof-of-concept "quantal
analysis": with fast, bright indicators the rate summed over an isolated event falls
into clusters at 1, 2, 3 … spikes. A mixture of Gaussians whose means are k · u
(k = 1 … K) and whose variances grow as k · σ² (each spike adds its own scatter) is
fitted to the event sums; u is the rate total of one spike here, and the rate divided
by u counts spikes in this neuron's own units.

The fit is *decisive* only when it rests on enough isolated events and clearly beats
both a single cluster (no quanta: a Gaussian or a log-normal spread of event sizes) and a
mixture of the same size with free means (clusters, but not at multiples of one size), by
the Bayesian information criterion.
Otherwise — Poisson-dense firing with few isolated events, slow indicators whose events
merge — the rate is left as it is, and the result says why.

Pure numpy, one neuron at a time (:func:`fit_neuron`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GAP_S = 0.5  #: an event is isolated when the rate stays below the threshold this long on both sides
EVENT_THRESHOLD = 0.02 / 1.5  #: rate per 60 Hz bin above which a sample belongs to an event (the spike fit's)
MIN_EVENT_TOTAL = 0.2  #: smaller event sums are not counted as events (noise in the rate)
MIN_EVENTS = 30  #: fewer isolated events: not decisive
MAX_QUANTA = 6  #: largest k tried
MIN_BIC_GAIN = 10.0  #: the quantal fit must beat one cluster and free means by this much BIC ("very strong" evidence)
UNIT_RANGE = (0.1, 10.0)  #: a unit outside this (in the rate's spikes) is not a plausible calibration
ITERATIONS = 200


@dataclass(frozen=True)
class QuantalFit:
    """One neuron's quantal fit: its unit u, how decisive it is, and why not when it is not."""

    unit: float  #: rate total of one spike in this neuron (NaN without a fit)
    decisive: bool  #: whether the rate is divided by ``unit``
    n_events: int  #: isolated events the fit rests on
    quanta: int  #: K, the number of clusters of the chosen fit (0 without a fit)
    bic_gain_one: float  #: BIC of the better one-cluster fit (Gaussian or log-normal) minus BIC of the quantal fit (> 0 favours quanta)
    bic_gain_free: float  #: BIC of free means minus BIC of the quantal fit
    reason: str  #: "decisive", or what it was not

    def as_dict(self) -> dict:
        return {"unit": self.unit, "decisive": self.decisive, "n_events": self.n_events, "quanta": self.quanta,
                "bic_gain_one": self.bic_gain_one, "bic_gain_free": self.bic_gain_free, "reason": self.reason}  # fmt: skip


def isolated_events(rate: np.ndarray, sample_rate: float = 60.0, whole: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(first, end) sample of each event of ``rate`` (one neuron, per bin): runs above :data:`EVENT_THRESHOLD`
    merged across gaps shorter than :data:`GAP_S`, so each has quiet on both sides; NaN counts as quiet.
    With ``whole``, events cut by the trace's ends are left out."""
    above = np.nan_to_num(np.asarray(rate, dtype=float), nan=0.0) >= EVENT_THRESHOLD
    if not above.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    edges = np.diff(np.concatenate([[0], above.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    gap = int(round(GAP_S * sample_rate))
    opens = np.concatenate([[True], starts[1:] - ends[:-1] >= gap])  # a run joins the previous when the quiet between is short
    first, last = starts[opens], np.maximum.reduceat(ends, np.flatnonzero(opens))
    if not whole:
        return first, last
    kept = (first >= gap) & (last <= above.size - gap)
    return first[kept], last[kept]


def event_total(rate: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Sum of ``rate`` over each event ``first:last`` (NaN as 0)."""
    cumulative = np.concatenate([[0.0], np.cumsum(np.nan_to_num(np.asarray(rate, dtype=float), nan=0.0))])
    return cumulative[last] - cumulative[first]


def event_sums(rate: np.ndarray, sample_rate: float = 60.0) -> np.ndarray:
    """Sums of ``rate`` over its isolated events (:func:`isolated_events`) of at least :data:`MIN_EVENT_TOTAL`."""
    sums = event_total(rate, *isolated_events(rate, sample_rate))
    return sums[sums >= MIN_EVENT_TOTAL]


def _log_normal(x: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    return -0.5 * (np.log(2.0 * np.pi * var) + (x - mean) ** 2 / var)


def _mixture(x: np.ndarray, means: np.ndarray, variances: np.ndarray, weights: np.ndarray) -> tuple[float, np.ndarray]:
    """Log-likelihood and responsibilities (n, K)."""
    log_p = _log_normal(x[:, None], means[None, :], variances[None, :]) + np.log(np.maximum(weights, 1e-300))[None, :]
    top = log_p.max(axis=1, keepdims=True)
    log_total = top[:, 0] + np.log(np.exp(log_p - top).sum(axis=1))
    return float(log_total.sum()), np.exp(log_p - log_total[:, None])


def fit_quantal(x: np.ndarray, quanta: int, unit: float) -> tuple[float, float]:
    """EM for means k·u, variances k·σ², free weights, from ``unit``: (log-likelihood, u)."""
    k = np.arange(1, quanta + 1, dtype=float)
    variance = max(np.var(x) / quanta, 1e-6)
    weights = np.full(quanta, 1.0 / quanta)
    previous = -np.inf
    for _ in range(ITERATIONS):
        log_likelihood, resp = _mixture(x, k * unit, k * variance, weights)
        unit = float((resp * x[:, None]).sum() / (resp * k[None, :]).sum())
        variance = max(float((resp * (x[:, None] - k[None, :] * unit) ** 2 / k[None, :]).sum() / x.size), 1e-6)
        weights = resp.mean(axis=0)
        if log_likelihood - previous < 1e-8:
            break
        previous = log_likelihood
    log_likelihood, _ = _mixture(x, k * unit, k * variance, weights)
    return log_likelihood, unit


def fit_free(x: np.ndarray, quanta: int) -> float:
    """Log-likelihood of a K-component Gaussian mixture with free means and variances (EM from quantiles)."""
    means = np.quantile(x, (np.arange(quanta) + 0.5) / quanta)
    variances = np.full(quanta, max(np.var(x) / quanta, 1e-6))
    weights = np.full(quanta, 1.0 / quanta)
    previous = -np.inf
    for _ in range(ITERATIONS):
        log_likelihood, resp = _mixture(x, means, variances, weights)
        mass = np.maximum(resp.sum(axis=0), 1e-12)
        means = (resp * x[:, None]).sum(axis=0) / mass
        variances = np.maximum((resp * (x[:, None] - means[None, :]) ** 2).sum(axis=0) / mass, 1e-6)
        weights = mass / x.size
        if log_likelihood - previous < 1e-8:
            break
        previous = log_likelihood
    return _mixture(x, means, variances, weights)[0]


def bic(log_likelihood: float, parameters: int, n: int) -> float:
    return -2.0 * log_likelihood + parameters * np.log(n)


def fit_sums(sums: np.ndarray) -> QuantalFit:
    """The quantal fit of one neuron's event sums (:func:`event_sums`), with its decisiveness."""
    x = np.asarray(sums, dtype=float)
    n = x.size
    if n < MIN_EVENTS:
        return QuantalFit(np.nan, False, n, 0, np.nan, np.nan, f"{n} isolated events, fewer than {MIN_EVENTS}")
    logs = np.log(x)  # sums are at least MIN_EVENT_TOTAL > 0
    one = min(bic(float(_log_normal(x, x.mean(), max(x.var(), 1e-6)).sum()), 2, n),  # one cluster: Gaussian …
              bic(float((_log_normal(logs, logs.mean(), max(logs.var(), 1e-6)) - logs).sum()), 2, n))  # … or skewed (log-normal)
    best = (np.inf, np.nan, 0)
    smallest = np.quantile(x, 0.1)
    for quanta in range(2, MAX_QUANTA + 1):
        for start in (smallest, np.median(x) / 2.0, np.median(x), smallest / 2.0):  # EM is local: a few starts
            log_likelihood, unit = fit_quantal(x, quanta, float(start))
            score = bic(log_likelihood, quanta + 1, n)  # u, σ, K − 1 weights
            if score < best[0]:
                best = (score, unit, quanta)
    score, unit, quanta = best
    free = bic(fit_free(x, quanta), 3 * quanta - 1, n)
    gain_one, gain_free = one - score, free - score
    if not UNIT_RANGE[0] <= unit <= UNIT_RANGE[1]:
        reason = f"unit {unit:.3g} outside {UNIT_RANGE[0]:g}–{UNIT_RANGE[1]:g}"
    elif gain_one < MIN_BIC_GAIN:
        reason = f"quanta beat one cluster by only {gain_one:.1f} BIC (need {MIN_BIC_GAIN:g})"
    elif gain_free < MIN_BIC_GAIN:
        reason = f"quanta beat free means by only {gain_free:.1f} BIC (need {MIN_BIC_GAIN:g})"
    else:
        reason = "decisive"
    return QuantalFit(float(unit), reason == "decisive", n, quanta, float(gain_one), float(gain_free), reason)


def fit_neuron(rate: np.ndarray, sample_rate: float = 60.0) -> QuantalFit:
    """The quantal fit of one neuron's rate (spikes per bin)."""
    return fit_sums(event_sums(rate, sample_rate))


DEFAULT_WARMUP_S = 300.0  #: a stream's warm-up: 5 min of rate hold a few hundred isolated events of a neuron firing at 1 Hz


class WarmupCalibration:
    """A stream's quantal calibration: fitted on each neuron's first ``warmup_s`` of rate, applied to every sample after.

    The rate emitted during the warm-up stays as it is (it is out before the fit can
    be made); from the first sample after it, each decisive neuron's rate is divided by
    its unit. ``fits`` is None until the warm-up is complete.
    """

    def __init__(self, n_neurons: int, warmup_s: float = DEFAULT_WARMUP_S, sample_rate: float = 60.0):
        self.warmup_s = float(warmup_s)
        self.needed = int(round(self.warmup_s * sample_rate))
        self.fits: list[QuantalFit] | None = None
        self.unit = np.full(n_neurons, np.nan)  #: each neuron's fitted unit (NaN: no fit, or not yet)
        self.applied = np.zeros(n_neurons, dtype=bool)  #: whether its rate is divided by it
        self._seen: list[np.ndarray] = []
        self._n_seen = 0

    def apply(self, rate: np.ndarray) -> np.ndarray:
        """The next (n_neurons, k) samples of the rate: as they are during the warm-up, calibrated after it."""
        first_after = 0
        if self.fits is None:
            first_after = min(rate.shape[1], self.needed - self._n_seen)
            self._seen.append(np.array(rate[:, :first_after]))
            self._n_seen += first_after
            if self._n_seen < self.needed:
                return rate
            warm, self._seen = np.concatenate(self._seen, axis=1), []
            self.fits = [fit_neuron(row) for row in warm]
            self.unit = np.array([f.unit for f in self.fits], dtype=float)
            self.applied = np.array([f.decisive for f in self.fits], dtype=bool)
        if not self.applied.any() or first_after == rate.shape[1]:
            return rate
        out = np.array(rate, dtype=np.float32)
        out[self.applied, first_after:] /= self.unit[self.applied, None].astype(np.float32)
        return out

    def record(self) -> dict:
        """What ``settings["calibration"]`` says: the warm-up, and each neuron's fit once it is made."""
        if self.fits is None:
            return {"warmup_s": self.warmup_s, "state": f"not calibrated: fewer than {self.warmup_s:g} s of rate so far"}
        return {"warmup_s": self.warmup_s, "state": "calibrated after the warm-up", "neurons": [f.as_dict() for f in self.fits]}
