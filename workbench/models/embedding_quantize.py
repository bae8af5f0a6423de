"""Static int8 quantization of an embedding model for OpenVINO (the ``openvino-int8`` variant), with NNCF.

`NNCF <https://github.com/openvinotoolkit/nncf>`_ (Intel's Neural Network Compression Framework, the library
OpenVINO and optimum-intel use for post-training quantization) reads the float32 OpenVINO model, runs it over a
calibration set to learn each activation's range, and inserts int8 quantize/dequantize pairs around the matrix
products (``ModelType.TRANSFORMER``: SmoothQuant for the outlier channels, the layer norms and softmax kept in
float, bias correction after). On a CPU with AVX512-VNNI or AMX the products then run in int8; the rest runs in
bfloat16 where the CPU has it (see ``OpenVinoEncoder``). Nothing is hand-written: this module only feeds NNCF.

The calibration texts ship with the package (``data/embedding-calibration.jsonl``, written by
``datasets/calibration/make_calibration.py`` from Workbench's own documentation: fixed, offline, and disjoint
from the retrieval benchmark's corpus). They are tokenized exactly as the runtimes tokenize (the export's
``tokenizer.json``) and fed in length-sorted batches of 8, as indexing feeds the model.

NNCF's progress bars and log lines go to the ``workbench.models`` logger, not to the learner's output.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

LOG = logging.getLogger("workbench.models")
#: The calibration texts, relative to this package.
CALIBRATION_FILE = "data/embedding-calibration.jsonl"
_BATCH = 8


def calibration_texts() -> list[str]:
    """The shipped calibration texts (see the module docstring)."""
    source = resources.files("workbench.models").joinpath(CALIBRATION_FILE)
    return [json.loads(line)["text"] for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]


def quantize_openvino(fp32_onnx: Path, tokenizer_file: Path, inputs: tuple[str, ...], out_xml: Path) -> None:
    """Write ``out_xml``: the int8 OpenVINO model of the float32 ONNX graph ``fp32_onnx``."""
    from tokenizers import Tokenizer

    from workbench._optional import require

    ov = require("openvino")  # with OpenVINO's telemetry blocked
    nncf = require("nncf")  # the same: NNCF reports to openvino_telemetry when it can import it
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    texts = sorted(calibration_texts(), key=len, reverse=True)
    batches = [texts[i : i + _BATCH] for i in range(0, len(texts), _BATCH)]

    def feed(batch: list[str]) -> dict[str, np.ndarray]:
        encodings = tokenizer.encode_batch(batch)
        columns = {
            "input_ids": [e.ids for e in encodings],
            "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings],
        }
        return {name: np.asarray(columns[name], dtype=np.int64) for name in inputs}

    model = ov.Core().read_model(str(fp32_onnx))
    with _to_log():
        quantized = nncf.quantize(
            model, nncf.Dataset(batches, feed), model_type=nncf.ModelType.TRANSFORMER,
            preset=nncf.QuantizationPreset.MIXED, subset_size=len(batches),
        )  # fmt: skip
    ov.save_model(quantized, str(out_xml), compress_to_fp16=False)


@contextlib.contextmanager
def _to_log() -> Any:
    """NNCF's progress bars (rich, on stdout/stderr) and its logger's lines go to the ``workbench.models`` log."""
    nncf_log = logging.getLogger("nncf")
    level, propagate = nncf_log.level, nncf_log.propagate
    handlers = list(nncf_log.handlers)
    for handler in handlers:
        nncf_log.removeHandler(handler)
    nncf_log.propagate = True
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            yield
    finally:
        for handler in handlers:
            nncf_log.addHandler(handler)
        nncf_log.setLevel(level)
        nncf_log.propagate = propagate
        if buffer.getvalue().strip():
            LOG.debug("nncf: %s", buffer.getvalue().strip()[-2000:])
