#pragma once
// Process-wide compute settings, applied once at start-up by every executable.

namespace nugget {

// Sets libtorch's intra-op threads (it starts with one here although more cores
// exist). threads <= 0: the number of cores, or NUGGET_THREADS when set.
void initialiseRuntime(int threads = 0);

} // namespace nugget
