// --tactic-sources (src/builder/tactic_sources.h): the names map to the tactic-id prefixes the GPU kernels use,
// bad names are refused with the expected list, and filtering keeps exactly the ids of the allowed sources.
#include "builder/tactic_sources.h"

#include <gtest/gtest.h>

namespace kiln {
namespace {

TEST(TacticSources, NamesMapToTheKernelsIdPrefixes) {
  auto p = tactic_source_prefixes({"kiln", "cudnn"});
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(*p, (std::vector<std::string>{"cuda:", "cudnn:"}));
  auto none = tactic_source_prefixes({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(TacticSources, UnknownOrRepeatedSourcesAreRefused) {
  auto unknown = tactic_source_prefixes({"cudnn", "tensorrt"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("'tensorrt'"), std::string::npos) << unknown.status().message();
  EXPECT_NE(unknown.status().message().find("cudnn, cublaslt or kiln"), std::string::npos);
  auto empty_name = tactic_source_prefixes({""});
  EXPECT_FALSE(empty_name.ok());
  auto twice = tactic_source_prefixes({"kiln", "kiln"});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("twice"), std::string::npos) << twice.status().message();
}

TEST(TacticSources, FilteringKeepsTheAllowedSourcesInOrder) {
  const std::vector<std::string> ids = {"cudnn:fused:e4:k24=6", "cublaslt:00ff", "cuda:int8_igemm",
                                        "cudnn:conv:e71", "cuda:few_channel_igemm"};
  EXPECT_EQ(tactics_from_sources(ids, {}), ids);
  EXPECT_EQ(tactics_from_sources(ids, {"cuda:"}),
            (std::vector<std::string>{"cuda:int8_igemm", "cuda:few_channel_igemm"}));
  EXPECT_EQ(tactics_from_sources(ids, {"cudnn:", "cublaslt:"}),
            (std::vector<std::string>{"cudnn:fused:e4:k24=6", "cublaslt:00ff", "cudnn:conv:e71"}));
  // "cuda:" must not take cuDNN's ids ("cudnn:" does not start with "cuda:").
  EXPECT_TRUE(tactics_from_sources({"cudnn:fused:e4"}, {"cuda:"}).empty());
}

}  // namespace
}  // namespace kiln
