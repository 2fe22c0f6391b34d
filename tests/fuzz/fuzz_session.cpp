// The HDF5 session reader: open read-only, then read every item the file lists.
#include "Error.h"
#include "FuzzFile.h"
#include "io/Session.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    try {
        auto session = nugget::Session::openReadOnly(fuzzFile(data, size, ".h5"));
        auto attempt = [](auto &&read) {
            try {
                read();
            } catch (const nugget::Error &) {
            }
        };
        attempt([&] { session.recipe(); });
        attempt([&] { session.inputSha256(); });
        for (const auto side : {nugget::Side::Teacher, nugget::Side::Student}) {
            attempt([&] { session.sensitivityInfo(side); });
            attempt([&] { session.readLayerTotals(side); });
            attempt([&] {
                for (const auto &name : session.sensitivityParameters(side))
                    attempt([&] { session.readSensitivity(side, name); });
            });
        }
        attempt([&] { session.readSelection(); });
        attempt([&] { session.selectionStrategy(); });
        attempt([&] {
            for (const auto &name : session.reductionParameters())
                attempt([&] { session.readReduction(name); });
        });
        attempt([&] {
            for (const auto &name : session.runNames())
                attempt([&] { session.readRun(name); });
        });
    } catch (const nugget::Error &) {
    }
    return 0;
}
