"""ens2export: train the ENS² network on ground truth and export ONNX models with cards."""
