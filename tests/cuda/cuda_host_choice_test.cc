// Host-side decisions of the CUDA backend that need no GPU (they run in CI too): which kernel a configured tactic
// id picks among a node's alternatives, and the int8 pointwise GEMM's shared-memory plans.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "backends/cuda/kernels/int8_pointwise.h"
#include "backends/cuda/kernels/kernel_factories.h"
#include "backends/cuda/tactic_choice_kernel.h"

namespace kiln::cuda {
namespace {

// A kernel that only names itself and offers fixed ids.
class NamedKernel : public CudaKernel {
 public:
  NamedKernel(std::string name, std::vector<std::string> ids) : name_(std::move(name)), ids_(std::move(ids)) {}
  std::string tactic() const override { return name_; }
  Result<std::unique_ptr<PreparedNode>> prepare(const LaunchContext&, std::span<const Dims>,
                                                std::span<const Dims>) const override {
    return Status::unsupported("not run");
  }
  Result<std::vector<std::string>> candidate_tactics(const LaunchContext&, std::span<const Dims>,
                                                     std::span<const Dims>) const override {
    return ids_;
  }

 private:
  std::string name_;
  std::vector<std::string> ids_;
};

// A qconv-like chain, as make_qconv_kernel builds it: cuDNN, then kiln's pointwise GEMM and its three-blocks
// variant (in either order), then cuBLASLt; the name of the kernel `configured` picks.
std::string picked(const std::string& configured, bool three_blocks_first = false) {
  std::unique_ptr<CudaKernel> kernel = std::make_unique<NamedKernel>("cudnn", std::vector<std::string>{"cudnn:e4"});
  auto chain = [&](const char* name, const std::string& ids) {
    auto alt = std::unique_ptr<CudaKernel>(std::make_unique<NamedKernel>(name, std::vector<std::string>{name}));
    auto r = with_alternative(std::move(kernel), std::move(alt), ids, configured);
    EXPECT_TRUE(r.ok());
    kernel = std::move(*r);
  };
  if (three_blocks_first) chain(kInt8Pointwise3BlocksTactic, kInt8Pointwise3BlocksTactic);
  chain(kInt8PointwiseTactic, kInt8PointwiseTactic);
  if (!three_blocks_first) chain(kInt8Pointwise3BlocksTactic, kInt8Pointwise3BlocksTactic);
  chain("cublaslt:00ff", "cublaslt:");
  return kernel->tactic();
}

TEST(CudaTacticChoice, AnOwnKernelIsNamedExactlyALibraryByItsPrefix) {
  EXPECT_EQ(picked(""), "cudnn");
  EXPECT_EQ(picked("cudnn:fused:e4:k24=40"), "cudnn");
  EXPECT_EQ(picked("cuda:int8_pointwise"), "cuda:int8_pointwise");
  // One own id being a prefix of another's must not pick the wrong kernel, whatever the chain's order.
  for (bool three_blocks_first : {false, true}) {
    EXPECT_EQ(picked("cuda:int8_pointwise_3_blocks", three_blocks_first), "cuda:int8_pointwise_3_blocks");
    EXPECT_EQ(picked("cuda:int8_pointwise", three_blocks_first), "cuda:int8_pointwise");
  }
  EXPECT_EQ(picked("cublaslt:42000000"), "cublaslt:00ff");
  // An id of no alternative keeps the primary (its prepare re-creates or reports it).
  EXPECT_EQ(picked("cuda:int8_pointwise_wide"), "cudnn");
  EXPECT_TRUE(names_alternative("cublaslt:", "cublaslt:"));
  EXPECT_FALSE(names_alternative("cublaslt", "cublaslt:"));
}

TEST(CudaTacticChoice, CandidatesOfEveryAlternativeAreOffered) {
  std::unique_ptr<CudaKernel> kernel = std::make_unique<NamedKernel>("cudnn", std::vector<std::string>{"cudnn:e4"});
  auto r = with_alternative(std::move(kernel),
                            std::unique_ptr<CudaKernel>(std::make_unique<NamedKernel>(
                                "cublaslt", std::vector<std::string>{"cublaslt:01", "cublaslt:02"})),
                            "cublaslt:", "");
  ASSERT_TRUE(r.ok());
  auto ids = (*r)->candidate_tactics(LaunchContext{}, {}, {});
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<std::string>{"cudnn:e4", "cublaslt:01", "cublaslt:02"}));
}

// The plans fit the multiprocessor's shared memory (sm_90: 228 KB, 227 KB a block, 1 KB a block reserved) for the
// blocks they promise, and the three-blocks variant takes up to 256 channels (ResNet-50's 64-256 channel 1x1s).
TEST(Int8PointwisePlan, FitTheirBlocksInSharedMemory) {
  constexpr size_t kSm = 228 * 1024, kBlockMax = 227 * 1024, kReserved = 1024;
  for (int c : {64, 128, 192, 256, 320, 512, 1024, 2048}) {
    SCOPED_TRACE(c);
    const launch::Int8PointwisePlan deep = launch::int8_pointwise_plan(c);
    ASSERT_GE(deep.stages, 2);
    EXPECT_GE(deep.blocks_per_sm, 1);
    EXPECT_LE(deep.shared_bytes, kBlockMax);
    EXPECT_LE(deep.blocks_per_sm * (deep.shared_bytes + kReserved), kSm);
    EXPECT_EQ(deep.slice_bytes, c % 128 == 0 ? 128 : 64);
    const launch::Int8PointwisePlan wide = launch::int8_pointwise_plan_3_blocks(c);
    if (c <= 256) {
      EXPECT_EQ(wide.stages, 2);
      EXPECT_EQ(wide.blocks_per_sm, 3);
      EXPECT_LE(3 * (wide.shared_bytes + kReserved), kSm);
    } else {
      EXPECT_EQ(wide.stages, 0);  // not offered: three blocks' W rows and stages do not fit
    }
  }
  EXPECT_EQ(launch::int8_pointwise_plan(48).stages, 0);  // not a multiple of 64 channels
  EXPECT_EQ(launch::int8_pointwise_plan_3_blocks(0).stages, 0);
}

}  // namespace
}  // namespace kiln::cuda
