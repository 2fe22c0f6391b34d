#include "io/Hdf5Errors.h"

namespace nugget::hdf5 {

namespace {

thread_local std::string t_reason;

herr_t keepInnermost(unsigned n, const H5E_error2_t *entry, void *data)
{
    if (n == 0 && entry && entry->desc && *entry->desc) {
        std::string text = entry->desc;
        // The file drivers' messages span lines of addresses and buffer pointers; the
        // system's reason is what a user needs: "file write failed: No space left on device".
        const std::string marker = "error message = '";
        const size_t start = text.find(marker);
        if (start != std::string::npos) {
            const size_t end = text.find('\'', start + marker.size());
            const std::string what = text.substr(0, text.find(':'));
            text = what + ": " + text.substr(start + marker.size(), end - start - marker.size());
        }
        *static_cast<std::string *>(data) = text;
    }
    return 0;
}

herr_t recordError(hid_t stack, void *)
{
    std::string innermost;
    H5Ewalk2(stack, H5E_WALK_UPWARD, keepInnermost, &innermost);   // innermost first
    if (!innermost.empty())
        t_reason = innermost;
    return 0;
}

} // namespace

void quiet()
{
    H5::Exception::dontPrint();
    H5Eset_auto2(H5E_DEFAULT, recordError, nullptr);
    t_reason.clear();
}

std::string reason(const H5::Exception &e)
{
    if (!t_reason.empty())
        return t_reason;
    std::string detail = e.getDetailMsg();
    return detail.empty() ? std::string("HDF5 error") : detail;
}

} // namespace nugget::hdf5
