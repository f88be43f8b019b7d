#!/usr/bin/python3
"""Independent check of a Hugging Face GPT-2 export (Debian's python3-torch only).

Usage: hf_logits.py EXPORT_DIR TOKENS_FILE EXPECTED_LOGITS_FILE

Reads EXPORT_DIR/config.json and EXPORT_DIR/model.safetensors (the header parsed by hand:
neither transformers nor the safetensors package is available here), runs GPT-2's forward
pass the way transformers' GPT2LMHeadModel does (Conv1D weights [in, out], y = x @ W + b;
gelu_new; LayerNorm with the config's epsilon; output head tied to wte), and compares the
logits with the float32 values in EXPECTED_LOGITS_FILE ([T, vocab], little-endian) for the
int64 tokens in TOKENS_FILE. Prints the largest difference; exits 1 above 1e-4.
"""
import json
import math
import struct
import sys

import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    if meta.get("format") != "pt":
        sys.exit(f"metadata format is {meta.get('format')!r}, transformers wants 'pt'")
    body = data[8 + n :]
    tensors = {}
    for name, e in header.items():
        if e["dtype"] != "F32":
            sys.exit(f"{name}: dtype {e['dtype']}, want F32")
        b, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(body[b:end]), dtype=torch.float32)
        tensors[name] = t.reshape(e["shape"])
    return tensors


def gpt2_logits(cfg, w, tokens):
    C, H, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    eps = cfg["layer_norm_epsilon"]
    assert cfg["activation_function"] == "gelu_new", cfg["activation_function"]
    T = tokens.shape[0]
    p = "transformer."
    x = w[p + "wte.weight"][tokens] + w[p + "wpe.weight"][torch.arange(T)]
    ln = lambda x, n: torch.nn.functional.layer_norm(x, (C,), w[n + ".weight"], w[n + ".bias"], eps)
    conv1d = lambda x, n: x @ w[n + ".weight"] + w[n + ".bias"]  # transformers' Conv1D
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    for l in range(L):
        h = f"{p}h.{l}."
        q, k, v = conv1d(ln(x, h + "ln_1"), h + "attn.c_attn").split(C, dim=-1)
        q, k, v = (t.reshape(T, H, C // H).transpose(0, 1) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // H)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(0, 1).reshape(T, C)
        x = x + conv1d(y, h + "attn.c_proj")
        m = torch.nn.functional.gelu(conv1d(ln(x, h + "ln_2"), h + "mlp.c_fc"), approximate="tanh")
        x = x + conv1d(m, h + "mlp.c_proj")
    x = ln(x, p + "ln_f")
    return x @ w[p + "wte.weight"].t()


def main():
    export_dir, tokens_file, expected_file = sys.argv[1:4]
    with open(export_dir + "/config.json") as f:
        cfg = json.load(f)
    w = read_safetensors(export_dir + "/model.safetensors")
    with open(tokens_file, "rb") as f:
        tokens = torch.frombuffer(bytearray(f.read()), dtype=torch.int64)
    with open(expected_file, "rb") as f:
        expected = torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(tokens.shape[0], cfg["vocab_size"])
    with torch.no_grad():
        got = gpt2_logits(cfg, w, tokens)
    diff = (got - expected).abs().max().item()
    print(f"max |logit difference| = {diff:.3g} over {tuple(got.shape)}")
    sys.exit(0 if diff <= 1e-4 else 1)


if __name__ == "__main__":
    main()
