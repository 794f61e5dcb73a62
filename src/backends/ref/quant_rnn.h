// Reference kernels of the recurrent ops (quant family), defined in quant_rnn.cc.
#pragma once

#include "backends/ref/kernel.h"

namespace kiln::ref {

Status rnn_kernel(KernelContext& ctx);
Status gru_kernel(KernelContext& ctx);
Status lstm_kernel(KernelContext& ctx);

}  // namespace kiln::ref
