#pragma once
// A JSON file whose top level is an object, read with errors that name the file.

#include <QJsonObject>

#include <string>

namespace nugget {

// Throws Error "PATH: cannot open (...)", "PATH: invalid JSON: ... at offset N" or
// "PATH: the top level is not a JSON object".
QJsonObject readJsonObjectFile(const std::string &path);

} // namespace nugget
