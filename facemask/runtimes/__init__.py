"""Inference runtimes shared by detectors and classifiers, each imported only when used:
``tflite`` (LiteRT interpreters, quantisation), ``onnx`` (ONNX Runtime sessions and providers),
``openvino``, ``edgetpu`` (the libedgetpu probe and delegate), ``tensorrt`` (engines: TensorRT's
Python API from JetPack, CUDA memory and streams through cuda-python, the ``[jetson]`` extra).
A missing runtime is one :class:`facemask.errors.BackendUnavailable` line naming what to install."""
