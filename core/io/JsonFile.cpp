#include "io/JsonFile.h"

#include "Error.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonParseError>

namespace nugget {

QJsonObject readJsonObjectFile(const std::string &path)
{
    QFile file(QString::fromStdString(path));
    if (!file.open(QIODevice::ReadOnly))
        throw Error(path + ": cannot open (" + file.errorString().toStdString() + ")");
    QJsonParseError error;
    const auto document = QJsonDocument::fromJson(file.readAll(), &error);
    if (error.error != QJsonParseError::NoError)
        throw Error(path + ": invalid JSON: " + error.errorString().toStdString() + " at offset " +
                    std::to_string(error.offset));
    if (!document.isObject())
        throw Error(path + ": the top level is not a JSON object");
    return document.object();
}

} // namespace nugget
