// GPU engines: a network's stem convolution (few input channels, stride 2, e.g. ResNet's 7x7 on RGB) as a
// space-to-depth followed by a stride-1 convolution, MLPerf's trick for tensor cores.
//
// With 3 input channels and stride 2, cuDNN has no fast tensor-core engine: ResNet-50's stem took 23-27% of
// its FP16 GPU time on the H100 (docs/cuda_backend.md), and padding the channels to 8 did not help. The same
// convolution on a 2x2 space-to-depth of the (padded) input has 4x the channels, stride 1 and a kernel of
// ceil(k/2): an ordinary tensor-core shape. Exactly:
//
//   Conv(x, W, stride 2, pads [pt, pl, pb, pr])
//     = Conv(SpaceToDepth(Pad(x, C to C2, H/W by pt/pb+e, pl/pr+e), 2), W', stride 1, no pads)
//   W'[k, (u*2 + v)*C2 + c, p, q] = W[k, c, 2p + u, 2q + v]   (0 where c >= C or 2p+u / 2q+v >= the kernel)
//
// where C2 (C rounded up to 2) makes the new channel count 4*C2 a multiple of 8 and e (0 or 1) makes the
// padded extent even. Applies to Conv / kiln.FusedConv / kiln.QConv (the pad value then is x's zero point:
// real 0) in NCHW with a constant 2-D weight, C <= 4, group 1,
// stride 2 on both axes, dilation 1, an odd kernel of at least 5x5 (3x3 stems lose more to the extra passes than
// they gain), explicit pads (auto_pad
// NOTSET) and static H and W. Bias, residual, activation and (QConv) per-output-channel scales stay on the
// convolution. Pad and SpaceToDepth are one kiln.PaddedSpaceToDepth, which also takes over the FP16 build's
// input Cast (FLOAT -> FLOAT16) or the INT8 build's input QuantizeLinear (per tensor, its zero point the QConv's:
// the padding) when nothing else reads it, and which channels_last lets write NHWC: the whole
// input preparation is one kernel (it was four: Cast, Pad, SpaceToDepth, Transpose, 0.56 ms of ResNet-50's
// 5.0 ms at batch 128 on the H100). The builder runs it after the precision rewrites, so an INT8 build calibrates (and a
// calibration cache names) the model's own tensors, not the rewrite's.
#pragma once

#include <cstdint>

#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {

struct StemSpaceToDepthReport {
  int64_t rewritten = 0;
};

Status stem_space_to_depth(Graph& graph, StemSpaceToDepthReport* report = nullptr);

}  // namespace kiln
