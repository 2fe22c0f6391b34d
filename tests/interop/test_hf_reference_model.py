"""transformers and Nugget read the shared stories260K checkpoint as the same model:
the greedy continuation of a prompt is the same token ids in both."""
import os

import torch
import transformers

from nugget_interop import InteropCase, SHARED, main, run_cli


class ReferenceModel(InteropCase):
    def test_greedy_ids_equal_transformers(self):
        model_dir = os.path.join(SHARED, "models", "stories260K")
        if not os.path.isdir(model_dir):
            self.skipTest(f"{model_dir} is absent")
        model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        model.eval()
        for prompt in ("Lily saw a cat", "Once upon a time"):
            with self.subTest(prompt=prompt):
                ids = [int(t) for t in run_cli("generate", model_dir, "--prompt", prompt,
                                               "--max-new-tokens", 24, "--temperature", 0,
                                               "--ids").stdout.split()]
                prompt_len = len(run_cli("generate", model_dir, "--prompt", prompt,
                                         "--max-new-tokens", 0, "--ids").stdout.split())
                with torch.no_grad():
                    out = model.generate(torch.tensor([ids[:prompt_len]]), do_sample=False,
                                         max_new_tokens=len(ids) - prompt_len,
                                         eos_token_id=None, pad_token_id=0)
                self.assertEqual(out[0].tolist(), ids)


if __name__ == "__main__":
    main()
