#pragma once
// Process-wide compute settings, applied once at start-up by every executable.

namespace nugget {

// libgomp reads OMP_WAIT_POLICY once, when it is loaded, before main() runs. Its default
// keeps idle OpenMP threads spinning, which on a few cores starves the BLAS library's own
// threads: the demo teacher's forward pass ran 2.3x slower, its training step 2.4x
// (nugget-cli bench forward, 2 cores). Called first in main(), this runs the program
// again in place (execv of /proc/self/exe, same arguments, same process id) with
// OMP_WAIT_POLICY=passive, unless the variable is set and not empty (a user's choice is kept).
// When the program cannot be run again it returns and the process goes on as it is.
void restartWithPassiveOpenMpWait(char **argv);

// Sets libtorch's intra-op threads (it starts with one here although more cores
// exist). threads <= 0: the number of cores, or NUGGET_THREADS when set.
void initialiseRuntime(int threads = 0);

} // namespace nugget
