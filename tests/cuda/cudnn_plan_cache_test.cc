// CudnnPlanCache's bookkeeping (host only: no GPU needed). That the builder's timing really takes the listed
// plans is checked on the GPU by CudaModel.TacticSourcesLimitTheChosenTactics.
#include "backends/cuda/cudnn_plan_cache.h"

#include <gtest/gtest.h>

namespace kiln::cuda {
namespace {

PlannedGraph planned_with_uids(std::vector<int64_t> uids) {
  auto graph = std::make_shared<BuiltGraph>();
  graph->uids = std::move(uids);
  return PlannedGraph{std::move(graph), {}};
}

TEST(CudnnPlanCache, TakesEachPlanOnceFromItsOwnScope) {
  CudnnPlanCache cache;
  cache.put("conv1 [1,8,8,16]", "cudnn:fused:e7", planned_with_uids({1, 2}));
  cache.put("conv1 [1,8,8,16]", "cudnn:fused:e9", planned_with_uids({3}));
  cache.put("conv2 [1,8,8,16]", "cudnn:fused:e7", planned_with_uids({4}));
  EXPECT_EQ(cache.size(), 3u);

  // Another node's scope, or the same node at other shapes, does not see the plan.
  EXPECT_FALSE(cache.take("conv1 [2,8,8,16]", "cudnn:fused:e7"));
  EXPECT_FALSE(cache.take("conv1 [1,8,8,16]", "cudnn:fused:e12"));
  auto e7 = cache.take("conv1 [1,8,8,16]", "cudnn:fused:e7");
  ASSERT_TRUE(e7);
  EXPECT_EQ(e7->graph->uids, (std::vector<int64_t>{1, 2}));
  auto other = cache.take("conv2 [1,8,8,16]", "cudnn:fused:e7");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->graph->uids, (std::vector<int64_t>{4}));
  // A plan runs in one prepared node: taken once.
  EXPECT_FALSE(cache.take("conv1 [1,8,8,16]", "cudnn:fused:e7"));
  EXPECT_EQ(cache.taken(), 2u);

  cache.clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.take("conv1 [1,8,8,16]", "cudnn:fused:e9"));
  EXPECT_EQ(cache.taken(), 2u);
}

TEST(CudnnPlanCache, ALaterPlanOfTheSameTacticReplacesTheEarlier) {
  CudnnPlanCache cache;
  cache.put("n", "t", planned_with_uids({1}));
  cache.put("n", "t", planned_with_uids({2}));
  EXPECT_EQ(cache.size(), 1u);
  auto p = cache.take("n", "t");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->graph->uids, (std::vector<int64_t>{2}));
}

}  // namespace
}  // namespace kiln::cuda
