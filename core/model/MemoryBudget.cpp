#include "model/MemoryBudget.h"

#include "Error.h"
#include "io/ModelFolderInfo.h"

#include <QByteArray>
#include <QtGlobal>

#include <unistd.h>

namespace nugget {

double memoryBytes()
{
    // NUGGET_MEMORY_BYTES: a share of a machine others use too (and the tests' way to
    // make a small model count as large).
    const QByteArray budget = qgetenv("NUGGET_MEMORY_BYTES");
    if (!budget.isEmpty()) {
        bool ok = false;
        const double bytes = budget.toDouble(&ok);
        if (!ok || !(bytes > 0))
            throw Error("NUGGET_MEMORY_BYTES is \"" + budget.toStdString() + "\"; expected a positive number of bytes");
        return bytes;
    }
    return static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

bool tooLargeForMemory(const ModelConfig &config)
{
    const double memory = memoryBytes();
    return memory > 0 && 4.0 * static_cast<double>(config.parameterCount()) > 0.5 * memory;
}


at::ScalarType studentWeightsDtype(const ModelConfig &config, const std::string &folder)
{
    if (!tooLargeForMemory(config))
        return at::kFloat;
    const double memory = memoryBytes();
    const double parameters = static_cast<double>(config.parameterCount());
    if (2.0 * parameters <= 0.75 * memory)
        return at::kBFloat16;
    throw Error(folder + ": the student (" + byteSizeText(4.0 * parameters) + " in float32, " +
                byteSizeText(2.0 * parameters) + " in bfloat16) does not fit in three quarters of this machine's memory (" +
                byteSizeText(memory) + "), which training needs beside its activations: choose a smaller student");
}

at::ScalarType parseStudentDtype(const std::string &text, const ModelConfig &config, const std::string &folder)
{
    if (text.empty() || text == "auto")
        return studentWeightsDtype(config, folder);
    if (text == "float32")
        return at::kFloat;
    if (text == "bfloat16")
        return at::kBFloat16;
    throw Error("--student-dtype is \"" + text + "\"; expected float32, bfloat16 or auto");
}

} // namespace nugget
