"""Fixtures of the adapter and merged-folder interop tests: small teacher/student pairs
made by transformers from random weights (untied or tied, float32 or bfloat16) with the
shared stories260K tokenizer, a tiny chat task, and helpers to compare logits."""
import json
import os
import shutil

import torch
import transformers

from nugget_interop import SHARED, run_cli

TOKENIZER = os.path.join(SHARED, "models", "stories260K", "tokenizer.model")
IDS = torch.tensor([[1, 20, 30, 40, 50, 60, 70, 80, 90, 100]])


def make_model(path, hidden, layers, tied, dtype, seed, eos=2):
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(
        hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers, num_attention_heads=4,
        num_key_value_heads=2, vocab_size=512, max_position_embeddings=256, tie_word_embeddings=tied,
        bos_token_id=1, eos_token_id=eos, initializer_range=0.1)
    model = transformers.LlamaForCausalLM(config)
    model.to(dtype).save_pretrained(path)
    shutil.copy(TOKENIZER, os.path.join(path, "tokenizer.model"))
    return path


def make_pair(root, tied=False, dtype=torch.float32):
    """ROOT/teacher and ROOT/student; returns (teacher, student)."""
    teacher = make_model(os.path.join(root, "teacher"), 64, 3, tied, dtype, 1)
    student = make_model(os.path.join(root, "student"), 32, 2, tied, dtype, 2)
    return teacher, student


CHATS = [
    {"messages": [{"role": "user", "content": f"What is {a} plus {b}?"},
                  {"role": "assistant", "content": f"It is {a + b}."}]}
    for a in range(1, 5) for b in range(2, 6)
]
MULTI_TURN = {"messages": [{"role": "system", "content": "You add numbers."},
                           {"role": "user", "content": "What is 1 plus 2?"},
                           {"role": "assistant", "content": "It is 3."},
                           {"role": "user", "content": "And 2 plus 2?"},
                           {"role": "assistant", "content": "It is 4."}]}


def write_task(root):
    path = os.path.join(root, "task.jsonl")
    with open(path, "w") as f:
        for chat in CHATS:
            f.write(json.dumps(chat) + "\n")
    return path


def transfer(root, teacher, student, task, out, *extra):
    """nugget-cli transfer with a short, strong training (adapters move far from their start)."""
    run_cli("transfer", "--teacher", teacher, "--student", student, "--seeds", task, "--train", task,
            "--eval", task, "--eval-limit", 2, "--rank", 4, "--epochs", 1, "--batch-size", 4,
            "--learning-rate", "1e-2", "--dropout", 0, "--max-length", 64, "--device", "cpu",
            "--out", out, *extra)
    return out


def logits(model, ids=IDS):
    with torch.no_grad():
        return model(input_ids=ids).logits.float()


def relative_difference(actual, expected):
    return float((actual - expected).abs().max() / expected.abs().max())


def load(path, dtype=torch.float32):
    model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    model.eval()
    return model
