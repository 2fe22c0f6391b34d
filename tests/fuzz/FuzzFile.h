#pragma once
// The parsers under test read files (mmap, HDF5): each input goes to one scratch file
// in memory-backed /dev/shm, rewritten for every run.

#include <cstdint>
#include <cstdio>
#include <string>

#include <unistd.h>

inline const std::string &fuzzFile(const uint8_t *data, size_t size, const char *suffix)
{
    static const std::string path = "/dev/shm/nugget-fuzz-" + std::to_string(::getpid()) + suffix;
    FILE *file = std::fopen(path.c_str(), "wb");
    if (file) {
        if (size)
            std::fwrite(data, 1, size, file);
        std::fclose(file);
    }
    return path;
}
