"""Build a TensorRT engine for the classifier from its ONNX export, on the device that will run it
(engines are specific to the GPU and the TensorRT version).

``python scripts/build_trt_engine.py --onnx ofm_classifier.onnx --out ofm_classifier.engine
[--min-batch 1] [--opt-batch 16] [--max-batch 64] [--no-fp16] [--workspace-mb 256]``

One optimization profile covers batches min..max of (N, S, S, 3) float32 RGB 0..255 (S read
from the ONNX input, 45 for OFM); fp16 kernels are allowed where the GPU has fast fp16. The
engine is what ``classifier.backend = "tensorrt"`` loads (facemask/runtimes/tensorrt.py).
Without TensorRT it exits with code 2 and one line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..cli import report_errors
from ..errors import BackendUnavailable, InputError, ModelError


def _tensorrt():
    try:
        import tensorrt as trt
    except ImportError:
        raise BackendUnavailable(
            "TensorRT is not installed here (python package tensorrt): build the engine on the Jetson / "
            "GPU machine that will run it (JetPack ships it; x86: pip install tensorrt)"
        ) from None
    return trt


def build_engine(onnx_path: Path, out: Path, min_batch: int = 1, opt_batch: int = 16, max_batch: int = 64,
                 fp16: bool = True, workspace_mb: int = 256, log=print) -> Path:
    if not 1 <= min_batch <= opt_batch <= max_batch:
        raise InputError(f"need 1 <= min-batch <= opt-batch <= max-batch, got {min_batch}, {opt_batch}, {max_batch}")
    if not onnx_path.is_file():
        raise InputError(f"no ONNX file {onnx_path}")
    trt = _tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    # TensorRT 8 needs the explicit-batch flag; TensorRT 10 networks are always explicit-batch.
    explicit = getattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)
    network = builder.create_network(0 if explicit is None else 1 << int(explicit))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelError(f"{onnx_path}: TensorRT cannot parse it: {errors}")
    inp = network.get_input(0)
    shape = tuple(inp.shape)
    if len(shape) != 4 or shape[3] != 3 or shape[1] != shape[2] or shape[1] <= 0:
        raise ModelError(f"{onnx_path}: input {inp.name} has shape {shape}, expected (N, S, S, 3)")
    s = shape[1]
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    profile = builder.create_optimization_profile()
    profile.set_shape(inp.name, (min_batch, s, s, 3), (opt_batch, s, s, 3), (max_batch, s, s, 3))
    config.add_optimization_profile(profile)
    if fp16 and builder.platform_has_fast_fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    engine = builder.build_serialized_network(network, config)
    if engine is None:
        raise ModelError(f"{onnx_path}: TensorRT failed to build an engine (see its log above)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(bytes(engine))
    os.replace(tmp, out)
    log(f"engine {out} ({out.stat().st_size} bytes): input {inp.name} (N, {s}, {s}, 3), batch {min_batch}..{max_batch}"
        f" (opt {opt_batch}), fp16 {'on' if fp16 and builder.platform_has_fast_fp16 else 'off'}, TensorRT {trt.__version__}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="build_trt_engine.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--onnx", required=True, type=Path, help="the classifier's .onnx export")
    p.add_argument("--out", required=True, type=Path, help="engine file to write")
    p.add_argument("--min-batch", type=int, default=1)
    p.add_argument("--opt-batch", type=int, default=16)
    p.add_argument("--max-batch", type=int, default=64)
    p.add_argument("--no-fp16", action="store_true", help="float32 kernels only")
    p.add_argument("--workspace-mb", type=int, default=256)
    args = p.parse_args(argv)
    def run() -> int:
        build_engine(args.onnx, args.out, args.min_batch, args.opt_batch, args.max_batch, not args.no_fp16, args.workspace_mb)
        return 0

    return report_errors(run)


if __name__ == "__main__":
    sys.exit(main())
