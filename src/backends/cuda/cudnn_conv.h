// Convolutions on cuDNN 9's backend (graph) API: Conv and kiln.FusedConv (make_conv_kernel, declared in
// kernels/kernel_factories.h).
//
// One operation graph per node and shape: conv fprop -> + bias -> + Z -> activation, intermediates virtual
// FLOAT tensors, X/Z/Y described with the node's layout (NCHW or NHWC strides), W uploaded at creation as
// KCRS (NCHW) or KRSC (NHWC: filter with channels-last strides). When no engine config runs that graph at the
// prepared shapes, smaller graphs are tried — conv + bias, then conv alone — and kiln's epilogue kernel
// (epilogue.cu) does the rest; the tactic id records which (cudnn_tactic.h).
//
// Runs f32 (FLOAT compute; engine configs with the TENSOR_CORE numerical note only with
// KernelOptions::allow_tf32) and f16 (HALF data, FLOAT compute and intermediates). B is uploaded as FLOAT
// whatever the data dtype (with a HALF bias cuDNN 9.14 offers no fused engine for conv + bias + Relu on an
// H100). Engine configs whose notes say they down-convert inputs or reduce in reduced precision are never
// used. 1-D (as 2-D with a unit H), 2-D and 3-D (NCHW only) convolutions, groups and depthwise, asymmetric
// pads and auto_pad. Other dtypes, a non-constant W or B, a Z of another shape than Y, NHWC on other than
// 2-D, and activations the epilogue does not know get no kernel (null).
//
// Without a tactic, prepare takes the first engine config that builds at the shapes, ranked: the heuristics'
// mode A configs of every graph (most fused first), then mode FALLBACK's, and last the generic engines with
// the STRICT_NAN_PROP note (engine 0 on cuDNN 9.14: correct but 40-500x slower). candidate_tactics offers up
// to max_cudnn_candidates (4; 12 for a conv over <= 16 input channels per group, plus the kernel-config knob
// variants of the first), spread over the distinct engines of every graph (cudnn_engine_choice.h);
// make_conv_kernel adds cuBLASLt's algorithms for a 1x1 NHWC conv and kiln's implicit GEMM for a 16-channel
// f16 NHWC one (few_channel_conv_kernel.cc), both through TacticChoiceKernel. Data pointers must be 16-byte
// aligned (the tensors are described so; execute_plan checks).
#pragma once

#include "backends/cuda/cuda_kernel.h"
#include "backends/cuda/cudnn_tactic.h"
