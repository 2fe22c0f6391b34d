#include "Runtime.h"

#include <QThread>
#include <QtGlobal>

#include <ATen/Parallel.h>

namespace nugget {

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
