"""The engine: from ΔF/F frames to 60 Hz rates and spike events, for every entry point.

``contract`` says which model kinds it runs and how (read from each model's card);
``offline`` (:func:`ens2rt.infer`), ``stream`` (:class:`ens2rt.Stream`) and
:mod:`ens2rt.dask` share its parts: ``traces`` (checks, gaps, noise level),
``resample`` (frames → 60 Hz), ``windows`` and ``whole_trace`` (running each model
kind over a range of samples, with the same numbers however a recording is split),
``spikes`` (the spike fit) and ``timing`` (per-stage timers).
"""
