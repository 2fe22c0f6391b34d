// safetensors header and index: open, then read every tensor the header accepted.
#include "Error.h"
#include "FuzzFile.h"
#include "io/Safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    try {
        const auto file = nugget::SafetensorsFile::open(fuzzFile(data, size, ".safetensors"));
        for (const auto &info : file->tensors()) {
            const auto tensor = file->tensor(info.name);
            if (tensor.numel() > 0)
                (void)tensor.to(at::kDouble).sum().item<double>();
        }
    } catch (const nugget::Error &) {
    }
    return 0;
}
