"""PEFT loads every adapter Nugget writes over the untouched student and computes what
Nugget's merged model computes; an adapter PEFT trained (rsLoRA, rank and alpha
patterns) loads into Nugget as the model PEFT merges; options Nugget cannot apply are
refused, naming the key and the file."""
import dataclasses
import json
import os

import peft
import torch

from adapter_fixtures import (IDS, load, logits, make_pair, relative_difference, transfer, write_task)
from nugget_interop import InteropCase, main, run_cli

LORA_KEYS = {f.name for f in dataclasses.fields(peft.LoraConfig)}


class NuggetAdaptersInPeft(InteropCase):
    def check_run(self, student, out, *, tied=False):
        adapter, merged = os.path.join(out, "adapter"), os.path.join(out, "merged")
        with open(os.path.join(adapter, "adapter_config.json")) as f:
            config = json.load(f)
        self.assertLessEqual(set(config), LORA_KEYS, "adapter_config.json holds keys LoraConfig does not know")
        self.assertEqual(config["base_model_name_or_path"], os.path.abspath(student))
        self.assertEqual(config["peft_version"], peft.__version__)
        self.assertIsNone(config["revision"])
        self.assertIsNone(config["modules_to_save"])
        peft.LoraConfig.from_pretrained(adapter)
        self.assertTrue(os.path.exists(os.path.join(adapter, "nugget_adapter.json")))

        over_base = peft.PeftModel.from_pretrained(load(student), adapter)
        over_base.eval()
        expected = logits(load(merged))
        self.assertLess(relative_difference(logits(over_base), expected), 1e-4)
        # The adapter moved the student: equality above is not the base equalling itself.
        self.assertGreater(relative_difference(logits(load(student)), expected), 1e-3)
        return config

    def test_every_init_applies_to_the_untouched_student(self):
        teacher, student = make_pair(self.tmp)
        task = write_task(self.tmp)
        for name, extra in [("transfer", ["--init", "transfer"]), ("lora", ["--init", "lora"]),
                            ("own-svd", ["--init", "own-svd"]),
                            ("pissa", ["--init", "own-svd", "--split", "pissa"]),
                            ("embeddings", ["--init", "transfer", "--origin", "embedding"])]:
            with self.subTest(init=name):
                out = transfer(self.tmp, teacher, student, task, os.path.join(self.tmp, name), *extra)
                config = self.check_run(student, out)
                if name != "lora":   # the delta trick: rank 2r, alpha doubled, as PEFT converts PiSSA
                    self.assertEqual(config["r"], 8)
                    self.assertEqual(config["lora_alpha"], 8)
                if name == "embeddings":
                    self.assertEqual(set(config["target_modules"]), {"embed_tokens", "lm_head"})

    def test_tied_student_with_embeddings_targeted(self):
        teacher, student = make_pair(self.tmp, tied=True)
        task = write_task(self.tmp)
        for name, extra in [("all", ["--init", "transfer"]), ("embeddings", ["--init", "own-svd", "--origin", "embedding"])]:
            with self.subTest(origin=name):
                self.check_run(student, transfer(self.tmp, teacher, student, task, os.path.join(self.tmp, name), *extra),
                               tied=True)

    def test_delta_form_is_rank_r_plus_delta(self):
        teacher, student = make_pair(self.tmp)
        task = write_task(self.tmp)
        out = transfer(self.tmp, teacher, student, task, os.path.join(self.tmp, "run"), "--adapter-form", "delta")
        adapter = os.path.join(out, "adapter")
        with open(os.path.join(adapter, "adapter_config.json")) as f:
            self.assertEqual(json.load(f)["r"], 4)
        # The delta merged into the student first, then the adapter: the merged model.
        base = peft.PeftModel.from_pretrained(load(student), os.path.join(adapter, "delta")).merge_and_unload()
        model = peft.PeftModel.from_pretrained(base, adapter)
        self.assertLess(relative_difference(logits(model), logits(load(os.path.join(out, "merged")))), 1e-4)

    def test_reading_the_rank_2r_adapter_back_gives_the_same_model(self):
        teacher, student = make_pair(self.tmp)
        task = write_task(self.tmp)
        out = transfer(self.tmp, teacher, student, task, os.path.join(self.tmp, "run"))
        # Nugget reads it (splitting trained and initial factors) and writes it again,
        # practically untouched (a learning rate of 1e-12).
        again = os.path.join(self.tmp, "again")
        run_cli("train", "--student", student, "--init", os.path.join(out, "adapter"), "--train", task,
                "--epochs", 1, "--learning-rate", "1e-12", "--max-length", 64, "--device", "cpu",
                "--out", again, "--merged", os.path.join(self.tmp, "again-merged"))
        expected = logits(load(os.path.join(out, "merged")))
        self.assertLess(relative_difference(logits(load(os.path.join(self.tmp, "again-merged"))), expected), 1e-4)
        model = peft.PeftModel.from_pretrained(load(student), again)
        self.assertLess(relative_difference(logits(model), expected), 1e-4)


class PeftAdaptersInNugget(InteropCase):
    def peft_trained(self, student, config, steps=5):
        model = peft.get_peft_model(load(student), config)
        optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-2)
        torch.manual_seed(0)
        for _ in range(steps):
            ids = torch.randint(3, 512, (2, 12))
            model(input_ids=ids, labels=ids).loss.backward()
            optimiser.step()
            optimiser.zero_grad()
        model.eval()
        path = os.path.join(self.tmp, "peft-adapter")
        model.save_pretrained(path)
        return path, logits(model.merge_and_unload())

    def nugget_merged(self, student, adapter, name="merged"):
        task = write_task(self.tmp)
        merged = os.path.join(self.tmp, name)
        run_cli("train", "--student", student, "--init", adapter, "--train", task, "--epochs", 1,
                "--learning-rate", "1e-12", "--max-length", 64, "--device", "cpu",
                "--out", os.path.join(self.tmp, name + "-adapter"), "--merged", merged)
        return logits(load(merged))

    def test_rslora_and_patterns_load_as_peft_merges_them(self):
        _, student = make_pair(self.tmp)
        for name, config in [
            ("plain", peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"],
                                      lora_dropout=0.0, init_lora_weights="gaussian")),
            ("rslora", peft.LoraConfig(r=4, lora_alpha=8, use_rslora=True, lora_dropout=0.0,
                                       target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights="gaussian")),
            ("patterns", peft.LoraConfig(r=4, lora_alpha=8, use_rslora=True, lora_dropout=0.0,
                                         target_modules=["q_proj", "v_proj", "down_proj", "embed_tokens"],
                                         rank_pattern={"down_proj": 2, "model.layers.1.self_attn.q_proj": 6},
                                         alpha_pattern={"v_proj": 3}, init_lora_weights="gaussian")),
        ]:
            with self.subTest(config=name):
                path, expected = self.peft_trained(student, config)
                actual = self.nugget_merged(student, path, name)
                self.assertLess(relative_difference(actual, expected), 1e-4)
                self.assertGreater(relative_difference(logits(load(student)), expected), 1e-3)

    def test_options_nugget_cannot_apply_are_refused(self):
        _, student = make_pair(self.tmp)
        path, _ = self.peft_trained(student, peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj"]), steps=1)
        config_path = os.path.join(path, "adapter_config.json")
        with open(config_path) as f:
            original = json.load(f)
        task = write_task(self.tmp)
        for key, value in [("use_dora", True), ("modules_to_save", ["lm_head"]), ("fan_in_fan_out", True),
                           ("init_lora_weights", "pissa"), ("layer_replication", [[0, 1]])]:
            with self.subTest(key=key):
                with open(config_path, "w") as f:
                    json.dump({**original, key: value}, f)
                proc = run_cli("train", "--student", student, "--init", path, "--train", task, "--epochs", 1,
                               "--device", "cpu", "--out", os.path.join(self.tmp, "refused"), check=False)
                self.assertNotEqual(proc.returncode, 0)
                self.assertIn(f"'{key}'", proc.stderr)
                self.assertIn(config_path, proc.stderr)


if __name__ == "__main__":
    main()
