// Compiled with the widgets' include setup by the test widgets_refuse_torch_headers,
// which expects the build to fail: a torch header reached from a widget does not compile.
#include "EngineResults.h"

#include <ATen/core/Tensor.h>

int widgetsTorchProbe() { return 0; }
