// kiln.QConv on cuDNN 9's graph API (make_qconv_kernel, declared in kernels/kernel_factories.h).
//
// Runs kiln's INT8 scheme (src/passes/precision/quantize_int8.h): i8 X / Z / Y with zero point 0 in
// channels-last layout, i8 weights per output channel (uploaded KRSC), i32 bias. One operation graph:
//
//   acc = conv(X, W)              int8 x int8, INT32 compute, held as a virtual FLOAT
//   t   = acc * mult[k] + bias[k] + Z * z_mult        mult = x_scale * w_scale[k] / y_scale, bias = B[k] * mult
//   Y   = int8(clamp(t, lo, hi))  lo/hi: the activation (Relu / Clip) in quantized units
//
// ("fused" path). When no engine runs that graph, cuDNN writes the accumulator as FLOAT to scratch and
// kiln's requantize kernel does the rest ("conv" path, qconv_kernels.h). cuDNN's int8 engines want the input
// channels a multiple of 4: a convolution with fewer (e.g. the RGB stem, group 1) has its weights padded with
// zero channels at creation and its X copied into padded scratch before each run.
//
// The requantization multiplies in f32 where the reference uses f64 (src/backends/ref/qfused.cc), so an output
// can differ from the reference by one quantization step where t lies within float rounding of a .5 tie.
// u8 data, nonzero zero points, NCHW layout, a constant Z and other activations get no kernel (null).
#pragma once

#include "backends/cuda/cuda_kernel.h"
