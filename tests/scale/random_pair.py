#!/usr/bin/env python3
"""Writes a teacher/student pair of LLaMA-shaped models with random bf16 weights and
the demo tokenizer (vocabulary 2048), for peak-memory measurements of nugget-cli
extract and transfer on models larger than the demo pair. Standard library only.

    python3 tests/scale/random_pair.py OUT_DIR [--teacher-layers 12] [--teacher-hidden 2048]
"""
import argparse, json, os, random, shutil, struct

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENIZER = os.path.join(HERE, '..', '..', 'resources', 'demo', 'teacher', 'tokenizer.model')
VOCAB = 2048


def config(hidden, intermediate, layers, heads):
    return {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
            "hidden_size": hidden, "intermediate_size": intermediate, "num_hidden_layers": layers,
            "num_attention_heads": heads, "num_key_value_heads": heads, "head_dim": hidden // heads,
            "max_position_embeddings": 512, "rms_norm_eps": 1e-5, "rope_theta": 10000,
            "tie_word_embeddings": False, "torch_dtype": "bfloat16", "vocab_size": VOCAB,
            "bos_token_id": 1, "eos_token_id": 2}


def shapes(c):
    h, f, v = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    out = [("model.embed_tokens.weight", (v, h))]
    for i in range(c["num_hidden_layers"]):
        p = "model.layers.%d." % i
        out += [(p + "self_attn.q_proj.weight", (h, h)), (p + "self_attn.k_proj.weight", (h, h)),
                (p + "self_attn.v_proj.weight", (h, h)), (p + "self_attn.o_proj.weight", (h, h)),
                (p + "mlp.gate_proj.weight", (f, h)), (p + "mlp.up_proj.weight", (f, h)),
                (p + "mlp.down_proj.weight", (h, f)), (p + "input_layernorm.weight", (h,)),
                (p + "post_attention_layernorm.weight", (h,))]
    return out + [("model.norm.weight", (h,)), ("lm_head.weight", (v, h))]


def write_model(folder, c, seed):
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(seed)
    # A block of normal(0, 0.02) bf16 values, read at a random offset per tensor: cheap
    # without numpy, and no two matrices alike.
    block = b"".join(struct.pack("<f", rng.gauss(0, 0.02))[2:] for _ in range(1 << 21))
    header, offset = {}, 0
    tensors = shapes(c)
    for name, shape in tensors:
        n = 1
        for d in shape:
            n *= d
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + 2 * n]}
        offset += 2 * n
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    with open(os.path.join(folder, "model.safetensors"), "wb") as out:
        out.write(struct.pack("<Q", len(head)) + head)
        for name, shape in tensors:
            n = 1
            for d in shape:
                n *= d
            if len(shape) == 1:
                out.write(b"\x80\x3f" * n)   # ones (norms)
                continue
            left = 2 * n
            while left > 0:
                start = 2 * rng.randrange(len(block) // 2)
                piece = block[start:start + left]
                out.write(piece)
                left -= len(piece)
    with open(os.path.join(folder, "config.json"), "w") as out:
        json.dump(c, out, indent=2)
    shutil.copy(TOKENIZER, os.path.join(folder, "tokenizer.model"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--teacher-layers", type=int, default=12)
    parser.add_argument("--teacher-hidden", type=int, default=2048)
    parser.add_argument("--student-layers", type=int, default=4)
    parser.add_argument("--student-hidden", type=int, default=1024)
    a = parser.parse_args()
    write_model(os.path.join(a.out, "teacher"),
                config(a.teacher_hidden, a.teacher_hidden * 43 // 16, a.teacher_layers, a.teacher_hidden // 128), 1)
    write_model(os.path.join(a.out, "student"),
                config(a.student_hidden, a.student_hidden * 43 // 16, a.student_layers, a.student_hidden // 128), 2)


if __name__ == "__main__":
    main()
