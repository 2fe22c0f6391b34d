#pragma once
// HDF5 error capture shared by the session store (io/Session*) and the chunk writer
// (io/ScoreChunks). HDF5's default handler prints its whole error stack to stderr; here
// a handler that prints nothing keeps the most specific message (e.g. "file signature
// not found", "file write failed: No space left on device") for our Error text.

#include "Error.h"

#include <H5Cpp.h>
#include <hdf5.h>

#include <c10/util/Exception.h>

#include <string>

namespace nugget::hdf5 {

// Installs the quiet, recording handler for this thread and forgets the last reason.
// The handler is per thread in HDF5's thread-safe build, so every operation calls it.
void quiet();

// The reason recorded since quiet(), else the exception's own detail. It has to be
// captured when the failing call returns: the C++ wrappers' destructors run during
// unwinding, call the library again and thereby clear the error stack before a catch
// block could read it.
std::string reason(const H5::Exception &e);

// Runs `fn` and turns HDF5 and torch exceptions into Error "<path>: cannot <what>: ...".
// Error and everything else (Cancelled among them) pass unchanged.
template <typename F>
auto guarded(const std::string &path, const std::string &what, F &&fn) -> decltype(fn())
{
    quiet();
    try {
        return fn();
    } catch (const H5::Exception &e) {
        throw Error(path + ": cannot " + what + ": " + reason(e));
    } catch (const c10::Error &e) {
        throw Error(path + ": cannot " + what + ": " + e.what_without_backtrace());
    }
}

// For C calls: a negative result throws H5::Exception naming `function`; the recorded
// reason explains it.
template <typename T>
T check(T result, const char *function)
{
    if (result < 0)
        throw H5::Exception(function, std::string(function) + " failed");
    return result;
}

// Owns a plain C identifier (property list, file, type, space, ...).
class Handle
{
public:
    explicit Handle(hid_t id) : m_id(id) {}
    ~Handle()
    {
        if (m_id >= 0)
            H5Idec_ref(m_id);
    }
    Handle(const Handle &) = delete;
    Handle &operator=(const Handle &) = delete;
    hid_t get() const { return m_id; }
    // Releases the identifier now, so that a failure (a flush on close) throws.
    void close()
    {
        if (m_id >= 0)
            check(H5Idec_ref(m_id), "H5Idec_ref");
        m_id = -1;
    }

private:
    hid_t m_id;
};

} // namespace nugget::hdf5
