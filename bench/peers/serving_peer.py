"""The peer of ``bench/serving.py``: the OpenAI-style server a learner writes with FastAPI and transformers.

One ``model.generate`` per request; FastAPI runs the plain ``def`` route in its threadpool, so concurrent
requests generate side by side in threads, each on its own. No batching, no guard, no telemetry.

    python bench/peers/serving_peer.py --model MODEL_FOLDER --port 8001
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch
import uvicorn
from fastapi import FastAPI
from transformers import AutoModelForCausalLM, AutoTokenizer


def make_app(folder: str) -> FastAPI:
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/chat/completions")
    def chat(body: dict[str, Any]) -> dict[str, Any]:
        text = tokenizer.apply_chat_template(body["messages"], add_generation_prompt=True, tokenize=False)
        inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=body.get("max_tokens", 64), do_sample=False)
        new = out[0, inputs["input_ids"].shape[1] :]
        answer = tokenizer.decode(new, skip_special_tokens=True)
        return {
            "id": f"chatcmpl-{time.time_ns()}",
            "object": "chat.completion",
            "model": body.get("model", "peer"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": int(inputs["input_ids"].shape[1]), "completion_tokens": int(new.shape[0]),
                      "total_tokens": int(inputs["input_ids"].shape[1] + new.shape[0])},
        }  # fmt: skip

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="A Hugging Face model folder.")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(make_app(args.model), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
