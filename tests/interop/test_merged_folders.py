"""transformers loads every merged folder Nugget writes (untied and tied students,
float32 and bfloat16, one file or sharded) as the model Nugget computes; the folder is
complete (generation config with every eos id, tokenizer files, a chat template that
renders and tokenizes exactly what Nugget trains on), and a bfloat16 merge is the
float32 sum rounded once."""
import json
import math
import os

import torch
import transformers
from safetensors.torch import load_file

from adapter_fixtures import (CHATS, MULTI_TURN, load, make_pair, transfer, write_task)
from nugget_interop import InteropCase, main, run_cli


def answer_perplexity(model, tokenizer, chats):
    """transformers' perplexity of the last answers (and EOS) with the prompts masked,
    the ids made by the merged folder's own chat template."""
    nll, count = 0.0, 0
    for chat in chats:
        ids = tokenizer.apply_chat_template(chat["messages"], tokenize=True, return_dict=False)
        prompt = tokenizer.apply_chat_template(chat["messages"][:-1], tokenize=True, add_generation_prompt=True,
                                               return_dict=False)
        with torch.no_grad():
            out = model(input_ids=torch.tensor([ids])).logits.double()
        logprobs = torch.log_softmax(out[0, :-1], dim=-1)
        targets = torch.tensor(ids[1:])
        picked = logprobs[torch.arange(len(targets)), targets][len(prompt) - 1:]
        nll -= float(picked.sum())
        count += len(picked)
    return math.exp(nll / count)


def nugget_perplexity(model_dir, task):
    out = run_cli("eval", model_dir, "--data", task, "--metric", "perplexity", "--device", "cpu").stdout
    return float(out.split()[1])


class MergedFolders(InteropCase):
    def check_folder(self, student, merged, task, dtype):
        for name in ("config.json", "generation_config.json", "tokenizer.model", "tokenizer_config.json",
                     "special_tokens_map.json"):
            self.assertTrue(os.path.exists(os.path.join(merged, name)), name)
        model = load(merged, torch.float32)   # bfloat16 weights compared in float32, as Nugget's eval computes
        self.assertEqual(transformers.AutoConfig.from_pretrained(merged).dtype, dtype)
        tokenizer = transformers.AutoTokenizer.from_pretrained(merged)
        expected = nugget_perplexity(merged, task)
        actual = answer_perplexity(model, tokenizer, [json.loads(l) for l in open(task)])
        self.assertLess(abs(actual - expected) / expected, 1e-4, (actual, expected))
        # The logits themselves, on the ids of each chat as the folder's template makes them.
        for i, chat in enumerate(json.loads(l) for l in open(task)):
            ids = tokenizer.apply_chat_template(chat["messages"], tokenize=True, return_dict=False)
            out = os.path.join(self.tmp, f"logits-{os.path.basename(os.path.dirname(merged))}-{i}.safetensors")
            run_cli("logits", merged, "--ids", " ".join(map(str, ids)), "--out", out)
            nugget = load_file(out)["logits"].double()
            with torch.no_grad():
                reference = model(input_ids=torch.tensor([ids])).logits[0].double()
            relative = float((nugget - reference).abs().max() / reference.abs().max())
            self.assertLess(relative, 1e-4, f"{merged}, chat {i}: logits differ by {relative} relative")
        return model

    def test_transformers_computes_what_nugget_computes(self):
        for tied in (False, True):
            for dtype in (torch.float32, torch.bfloat16):
                with self.subTest(tied=tied, dtype=str(dtype)):
                    root = os.path.join(self.tmp, f"{tied}-{dtype}")
                    os.makedirs(root)
                    teacher, student = make_pair(root, tied=tied, dtype=dtype)
                    task = write_task(root)
                    out = transfer(root, teacher, student, task, os.path.join(root, "run"))
                    self.check_folder(student, os.path.join(out, "merged"), task, dtype)

    def test_bfloat16_merge_rounds_the_float32_sum_once(self):
        teacher, student = make_pair(self.tmp, dtype=torch.bfloat16)
        task = write_task(self.tmp)
        out = transfer(self.tmp, teacher, student, task, os.path.join(self.tmp, "run"))
        base = load_file(os.path.join(student, "model.safetensors"))
        merged = load_file(os.path.join(out, "merged", "model.safetensors"))
        factors = load_file(os.path.join(out, "adapter", "adapter_model.safetensors"))
        with open(os.path.join(out, "adapter", "adapter_config.json")) as f:
            config = json.load(f)
        checked = mismatches = 0
        for key in factors:
            if not key.endswith("lora_A.weight"):
                continue
            name = key[len("base_model.model."):-len(".lora_A.weight")] + ".weight"
            a, b = factors[key].float(), factors[key.replace("lora_A", "lora_B")].float()
            scaling = config["lora_alpha"] / config["r"]
            expected = (base[name].float() + scaling * (b @ a)).to(torch.bfloat16)
            # Equal but where another summation order of the float32 product puts the
            # sum on the other side of a rounding boundary: at most one step, rarely.
            differ = merged[name] != expected
            self.assertLessEqual(int(differ.sum()), max(1, expected.numel() // 1000), name)
            step = (expected.float().abs() * 2 ** -7).clamp_min(1e-30)
            self.assertTrue(bool(((merged[name].float() - expected.float()).abs() <= step).all()), name)
            # Rounding the delta trick's base first and adding the trained part after
            # (two roundings) gives other weights: what the test guards against.
            r = a.shape[0] // 2
            start = (base[name].float() - scaling * (-b[:, r:] @ a[r:])).to(torch.bfloat16)
            twice = (start.float() + scaling * (b[:, :r] @ a[:r])).to(torch.bfloat16)
            mismatches += int((twice != expected).sum())
            checked += expected.numel()
        self.assertGreater(checked, 0)
        self.assertGreater(mismatches, checked // 100)

    def test_sharded_folder_with_an_index(self):
        teacher, student = make_pair(self.tmp)
        task = write_task(self.tmp)
        out = transfer(self.tmp, teacher, student, task, os.path.join(self.tmp, "run"), "--max-shard-size", "40KB")
        merged = os.path.join(out, "merged")
        with open(os.path.join(merged, "model.safetensors.index.json")) as f:
            index = json.load(f)
        shards = sorted(set(index["weight_map"].values()))
        self.assertGreater(len(shards), 1)
        self.assertEqual(shards[0], f"model-00001-of-{len(shards):05d}.safetensors")
        self.assertFalse(os.path.exists(os.path.join(merged, "model.safetensors")))
        total = sum(t.numel() * t.element_size() for s in shards for t in load_file(os.path.join(merged, s)).values())
        self.assertEqual(index["metadata"]["total_size"], total)
        self.check_folder(student, merged, task, torch.float32)

    def test_generation_config_keeps_every_eos_id(self):
        teacher, student = make_pair(self.tmp)
        with open(os.path.join(student, "generation_config.json")) as f:
            generation = json.load(f)
        generation["eos_token_id"] = [2, 7]
        with open(os.path.join(student, "generation_config.json"), "w") as f:
            json.dump(generation, f)
        task = write_task(self.tmp)
        out = transfer(self.tmp, teacher, student, task, os.path.join(self.tmp, "run"))
        merged = transformers.GenerationConfig.from_pretrained(os.path.join(out, "merged"))
        self.assertEqual(merged.eos_token_id, [2, 7])
        # A student without one: written from its config.json.
        os.remove(os.path.join(student, "generation_config.json"))
        out = transfer(self.tmp, teacher, student, task, os.path.join(self.tmp, "run2"), "--init", "none")
        merged = transformers.GenerationConfig.from_pretrained(os.path.join(out, "merged"))
        self.assertEqual((merged.bos_token_id, merged.eos_token_id), (1, 2))

    def test_chat_template_renders_nuggets_training_format(self):
        teacher, student = make_pair(self.tmp)
        task = write_task(self.tmp)
        out = transfer(self.tmp, teacher, student, task, os.path.join(self.tmp, "run"), "--init", "none")
        tokenizer = transformers.AutoTokenizer.from_pretrained(os.path.join(out, "merged"))
        # The format text/ChatDataset.h documents.
        self.assertEqual(tokenizer.apply_chat_template(MULTI_TURN["messages"], tokenize=False),
                         "<s><|system|>\nYou add numbers.\n\n<|user|>\nWhat is 1 plus 2?\n\n"
                         "<|assistant|>\nIt is 3.</s><|user|>\nAnd 2 plus 2?\n\n<|assistant|>\nIt is 4.</s>")
        self.assertEqual(tokenizer.apply_chat_template(CHATS[0]["messages"][:1], tokenize=False,
                                                       add_generation_prompt=True),
                         "<s><|user|>\nWhat is 1 plus 2?\n\n<|assistant|>\n")
        # The ids: the template's ids give the answer perplexity Nugget computes from its own.
        path = os.path.join(self.tmp, "multi.jsonl")
        with open(path, "w") as f:
            f.write(json.dumps(MULTI_TURN) + "\n" + json.dumps(CHATS[3]) + "\n")
        merged = os.path.join(out, "merged")
        actual = answer_perplexity(load(merged), tokenizer, [MULTI_TURN, CHATS[3]])
        expected = nugget_perplexity(merged, path)
        self.assertLess(abs(actual - expected) / expected, 1e-4, (actual, expected))


if __name__ == "__main__":
    main()
