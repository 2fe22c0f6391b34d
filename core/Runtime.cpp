#include "Runtime.h"

#include <QThread>
#include <QtGlobal>

#include <ATen/Parallel.h>

#include <cstdlib>

#include <unistd.h>

namespace nugget {

void restartWithPassiveOpenMpWait(char **argv)
{
    const char *policy = std::getenv("OMP_WAIT_POLICY");
    if (policy && *policy)
        return;
    ::setenv("OMP_WAIT_POLICY", "passive", 1);
    ::execv("/proc/self/exe", argv);
    // Not run again (no /proc): go on with the policy libgomp has already read.
}

void initialiseRuntime(int threads)
{
    if (threads <= 0) {
        bool ok = false;
        threads = qEnvironmentVariableIntValue("NUGGET_THREADS", &ok);
        if (!ok || threads <= 0)
            threads = QThread::idealThreadCount();
    }
    at::set_num_threads(threads);
}

} // namespace nugget
