"""The LLaMA-family checkpoints users bring, as transformers itself makes them: for each
family a small model with random weights is built from that family's config by
transformers and saved with save_pretrained; Nugget must read it as the same model
(logits within 1e-4 and the same greedy ids as transformers on the same prompts), and
`nugget-cli info` must open it without a problem. Configs Nugget cannot compute exactly
are refused, naming the key and config.json."""
import json
import os
import shutil

import torch
import transformers
from safetensors.torch import load_file, save_file

from nugget_interop import InteropCase, SHARED, main, run_cli

VOCAB = 512   # the shared stories260K tokenizer's, so that the folders carry a tokenizer
SMALL = dict(hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, vocab_size=VOCAB, max_position_embeddings=256,
             bos_token_id=1, eos_token_id=2, initializer_range=0.2)
LLAMA3_ROPE = {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 64}


def llama(**changes):
    return transformers.LlamaConfig(**{**SMALL, **changes})


# name -> config: every family docs/model-families.md lists as supported.
FAMILIES = {
    "llama2": lambda: llama(num_key_value_heads=4, rms_norm_eps=1e-5),
    "llama3": lambda: llama(rope_parameters=dict(LLAMA3_ROPE), eos_token_id=[2, 3], tie_word_embeddings=True),
    "llama-linear-rope": lambda: llama(rope_parameters={"rope_type": "linear", "rope_theta": 10000.0,
                                                        "factor": 4.0}),
    "llama-dynamic-rope": lambda: llama(rope_parameters={"rope_type": "dynamic", "rope_theta": 10000.0,
                                                         "factor": 2.0}),
    "tinyllama-style": lambda: llama(num_attention_heads=8, num_key_value_heads=1, rms_norm_eps=1e-5),
    "smollm-style": lambda: llama(hidden_size=144, num_attention_heads=9, num_key_value_heads=3,
                                  tie_word_embeddings=True, rope_parameters={"rope_type": "default",
                                                                             "rope_theta": 100000.0}),
    "llama-attention-and-mlp-bias": lambda: llama(attention_bias=True, mlp_bias=True),
    "mistral-no-window": lambda: transformers.MistralConfig(**SMALL, sliding_window=None),
    "mistral-window-as-long-as-the-context": lambda: transformers.MistralConfig(**SMALL, sliding_window=256),
    "qwen2": lambda: transformers.Qwen2Config(**SMALL, rope_parameters={"rope_type": "default",
                                                                        "rope_theta": 1000000.0}),
    "qwen2.5-tied": lambda: transformers.Qwen2Config(**SMALL, tie_word_embeddings=True),
}

# name -> (config, words the refusal must contain besides config.json's path).
REFUSED = {
    "yarn rope": (lambda: llama(rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0,
                                                 "original_max_position_embeddings": 64}),
                  ["'rope_parameters'", "yarn"]),
    "mistral window inside the context": (lambda: transformers.MistralConfig(**SMALL, sliding_window=32),
                                          ["'sliding_window' is 32", "sliding-window attention"]),
    "qwen2 sliding layers": (lambda: transformers.Qwen2Config(**SMALL, use_sliding_window=True, sliding_window=32,
                                                              max_window_layers=1),
                             ["'sliding_window' is 32"]),
    "gelu activation": (lambda: llama(hidden_act="gelu"), ["'hidden_act' is 'gelu'"]),
}

PROMPTS = [[1, 45, 302, 17, 260, 88, 411, 9, 37, 500, 121, 64, 3, 199, 250, 77, 5, 310, 42, 471],
           [1] + list(range(60, 120, 3))]


def save_family(folder, config, seed=0):
    """A transformers model of `config` with random weights (biases and norms too, which
    transformers starts at zero and one) saved into `folder` with the shared tokenizer."""
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(config, attn_implementation="eager")
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith(".bias"):
                parameter.normal_(0.0, 0.5)
            elif "norm" in name:
                parameter.normal_(1.0, 0.2)
    model.save_pretrained(folder)
    shutil.copy(os.path.join(SHARED, "models", "stories260K", "tokenizer.model"), folder)
    return model.eval()


def nugget_logits(folder, ids, out):
    run_cli("logits", folder, "--ids", " ".join(map(str, ids)), "--out", out)
    return load_file(out)["logits"]


def nugget_greedy(folder, ids, new_tokens):
    text = run_cli("generate", folder, "--prompt-ids", " ".join(map(str, ids)), "--ids", "--temperature", 0,
                   "--max-new-tokens", new_tokens, "--continue-after-bos").stdout
    return [int(t) for t in text.split()]


def hf_greedy(model, ids, new_tokens, eos):
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=new_tokens,
                             eos_token_id=eos, pad_token_id=0, top_k=None, top_p=None, temperature=None)
    return out[0].tolist()


class Families(InteropCase):
    def setUp(self):
        super().setUp()
        if not os.path.isfile(os.path.join(SHARED, "models", "stories260K", "tokenizer.model")):
            self.skipTest("the shared stories260K tokenizer is absent")

    def check_family(self, name, config):
        folder = os.path.join(self.tmp, name)
        model = save_family(folder, config)
        written = json.load(open(os.path.join(folder, "config.json")))
        info = run_cli("info", folder, check=False)
        self.assertEqual(info.returncode, 0, f"{name}: nugget-cli info:\n{info.stdout}\n{info.stderr}")
        for i, ids in enumerate(PROMPTS):
            with torch.no_grad():
                expected = model(torch.tensor([ids])).logits[0]
            actual = nugget_logits(folder, ids, os.path.join(self.tmp, f"{name}-{i}.safetensors"))
            self.assertEqual(actual.shape, expected.shape)
            # The comparison means something only if the logits are far from uniform.
            self.assertGreater(expected.std().item(), 0.5, f"{name}: logits too flat to compare")
            difference = (actual - expected).abs().max().item()
            self.assertLess(difference, 1e-4, f"{name}, prompt {i}: logits differ by {difference}")
            eos = written["eos_token_id"]
            self.assertEqual(nugget_greedy(folder, ids, 24), hf_greedy(model, ids, 24, eos), f"{name}, prompt {i}")
        return folder, model

    def test_every_family_equals_transformers(self):
        for name, make in FAMILIES.items():
            with self.subTest(family=name):
                self.check_family(name, make())

    def test_rope_parameters_are_what_transformers_5_writes(self):
        folder, model = self.check_family("llama3-rope", llama(rope_parameters=dict(LLAMA3_ROPE)))
        written = json.load(open(os.path.join(folder, "config.json")))
        self.assertEqual(written["rope_parameters"]["rope_theta"], 500000.0)
        self.assertNotIn("rope_theta", written)   # only inside rope_parameters
        self.assertIn("dtype", written)
        # The same weights under plain RoPE with theta 10000 (what Nugget once read
        # from this config) give other logits: the comparison above can fail.
        plain = dict(written, rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
        json.dump(plain, open(os.path.join(folder, "config.json"), "w"))
        ids = PROMPTS[0]
        with torch.no_grad():
            expected = model(torch.tensor([ids])).logits[0]
        other = nugget_logits(folder, ids, os.path.join(self.tmp, "plain.safetensors"))
        self.assertGreater((other - expected).abs().max().item(), 1e-2)

    def test_any_end_of_sequence_id_ends_generation(self):
        config = llama(rope_parameters=dict(LLAMA3_ROPE))
        folder = os.path.join(self.tmp, "eos")
        model = save_family(folder, config)
        ids = PROMPTS[0]
        free = hf_greedy(model, ids, 24, None)[len(ids):]
        # The first generated token not seen before it: generation must stop right there
        # when it is the second of two end-of-sequence ids.
        stop_at = next(i for i in range(3, len(free)) if free[i] not in free[:i] and free[i] not in (1, 2))
        written = json.load(open(os.path.join(folder, "config.json")))
        written["eos_token_id"] = [VOCAB - 1 if free[stop_at] != VOCAB - 1 else VOCAB - 2, free[stop_at]]
        json.dump(written, open(os.path.join(folder, "config.json"), "w"))
        generated = nugget_greedy(folder, ids, 24)[len(ids):]
        self.assertEqual(generated, free[:stop_at + 1])
        self.assertEqual(generated, hf_greedy(model, ids, 24, written["eos_token_id"])[len(ids):])

    def test_unsupported_configs_are_refused_naming_the_key_and_file(self):
        for name, (make, words) in REFUSED.items():
            with self.subTest(config=name):
                folder = os.path.join(self.tmp, name.replace(" ", "-"))
                save_family(folder, make())
                config_path = os.path.join(folder, "config.json")
                for command in (["info", folder], ["logits", folder, "--ids", "1 2", "--out",
                                                   os.path.join(self.tmp, "x.safetensors")]):
                    proc = run_cli(*command, check=False)
                    self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
                    self.assertIn(config_path + ": key ", proc.stderr)
                    for word in words:
                        self.assertIn(word, proc.stderr)
                self.assertFalse(os.path.exists(os.path.join(self.tmp, "x.safetensors")))

    def test_a_tensor_the_model_does_not_use_is_refused(self):
        folder = os.path.join(self.tmp, "extra")
        save_family(folder, transformers.Qwen2Config(**SMALL))
        weights = os.path.join(folder, "model.safetensors")
        tensors = load_file(weights)
        tensors["model.layers.0.self_attn.o_proj.bias"] = torch.zeros(64)   # Qwen2's o_proj has none
        save_file(tensors, weights, metadata={"format": "pt"})
        proc = run_cli("logits", folder, "--ids", "1 2", "--out", os.path.join(self.tmp, "x.safetensors"),
                       check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(weights + ": tensor 'model.layers.0.self_attn.o_proj.bias' is not used", proc.stderr)


if __name__ == "__main__":
    main()
