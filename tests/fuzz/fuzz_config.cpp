// config.json: parse, validate, and use what validation accepted.
#include "Error.h"
#include "io/ModelConfig.h"

#include <QByteArray>
#include <QJsonDocument>

#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromRawData(reinterpret_cast<const char *>(data),
                                                                              static_cast<qsizetype>(size)));
    if (!doc.isObject())
        return 0;
    try {
        const auto config = nugget::ModelConfig::fromJson(doc.object(), "config.json");
        (void)config.parameterCount();
        (void)nugget::ModelConfig::fromJson(config.toJson(), "round trip");
    } catch (const nugget::Error &) {
    }
    return 0;
}
