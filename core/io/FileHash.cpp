#include "io/FileHash.h"

#include "Error.h"

#include <QCryptographicHash>
#include <QFile>

namespace nugget {

std::string fileSha256(const std::string &path)
{
    QFile file(QString::fromStdString(path));
    if (!file.open(QIODevice::ReadOnly))
        throw Error(path + ": cannot read: " + file.errorString().toStdString());
    QCryptographicHash hash(QCryptographicHash::Sha256);
    hash.addData(&file);
    return hash.result().toHex().toStdString();
}

} // namespace nugget
