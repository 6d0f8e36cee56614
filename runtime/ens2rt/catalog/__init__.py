"""The model catalog: what a model is and how one is chosen and loaded.

``model`` (one ONNX file with its card, on onnxruntime providers, its contract read by
:mod:`ens2rt.engine.contract`), ``family`` (noise-matched members, and
:func:`~ens2rt.catalog.family.load_models`, the one selection point every entry
point uses).
"""
