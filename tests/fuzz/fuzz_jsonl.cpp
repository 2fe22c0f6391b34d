// JSONL chat datasets: every line parsed, then rendered as the trainer would.
#include "Error.h"
#include "FuzzFile.h"
#include "text/ChatDataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    try {
        for (const auto &example : nugget::readChatJsonl(fuzzFile(data, size, ".jsonl"))) {
            (void)nugget::renderPrompt(example);
            (void)nugget::answerText(example);
        }
    } catch (const nugget::Error &) {
    }
    return 0;
}
