"""The model catalog: what a model is and how one is chosen and loaded.

``contract`` (how a model must be run, from its card), ``model`` (one ONNX file with
its card, on onnxruntime providers), ``family`` (noise-matched members, and
:func:`~ens2rt.catalog.family.load_models`, the one selection point every entry
point uses).
"""
