// Tactic timing and the timing cache (src/builder/cpu_tactics.h), through build_engine on the bundled model:
// the first build times the implementations oneDNN offers and records them; a rebuild with the cache times
// nothing and writes a byte-identical engine; a file that is not a timing cache is refused by name.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "kiln/kiln.h"

namespace fs = std::filesystem;

namespace kiln {
namespace {

const std::string kModel = (fs::path(__FILE__).parent_path() / "../../models/fashion_mnist_mobilenet.onnx").string();

// A fresh folder per test: ctest runs the tests of this file as parallel processes.
fs::path work() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path d = fs::temp_directory_path() / (std::string("kiln_cpu_tactics_test_") + info->name());
  static std::string prepared;
  if (prepared != info->name()) {
    fs::remove_all(d);
    fs::create_directories(d);
    prepared = info->name();
  }
  return d;
}

std::string bytes_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// "tactics: N nodes with a choice, T implementations timed, C from the timing cache, ..." → {N, T, C}.
std::array<int, 3> tactic_counts(const BuildReport& r) {
  std::regex re(R"(tactics: (\d+) nodes with a choice, (\d+) implementations timed, (\d+) from the timing cache)");
  for (const std::string& line : r.log) {
    std::smatch m;
    if (std::regex_search(line, m, re)) return {std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3])};
  }
  ADD_FAILURE() << "no tactics line in the build log";
  return {-1, -1, -1};
}

TEST(CpuTactics, TimingCacheMakesRebuildsIdenticalAndUntimed) {
  BuildOptions o;
  o.timing_cache = (work() / "timing.json").string();
  auto first = build_engine(kModel, (work() / "first.kiln").string(), o);
  ASSERT_TRUE(first.ok()) << first.status().message();
  auto [choices, timed, cached] = tactic_counts(*first);
  EXPECT_GT(choices, 0);
  EXPECT_GT(timed, 0);
  auto cache = nlohmann::json::parse(bytes_of(o.timing_cache));
  EXPECT_EQ(cache["format"], "kiln-timing-cache-1");
  ASSERT_EQ(cache["machines"].size(), 1u);

  auto second = build_engine(kModel, (work() / "second.kiln").string(), o);
  ASSERT_TRUE(second.ok()) << second.status().message();
  auto counts = tactic_counts(*second);
  EXPECT_EQ(counts[0], choices);
  EXPECT_EQ(counts[1], 0) << "a rebuild with the cache must not time anything";
  EXPECT_GT(counts[2], 0);
  EXPECT_EQ(bytes_of(work() / "first.kiln"), bytes_of(work() / "second.kiln"));
}

TEST(CpuTactics, EngineRunsWithTheChosenTacticsAndMatchesDefaultChoices) {
  BuildOptions timed, untimed;
  timed.timing_cache = (work() / "timing2.json").string();
  untimed.time_tactics = false;
  ASSERT_TRUE(build_engine(kModel, (work() / "timed.kiln").string(), timed).ok());
  auto r = build_engine(kModel, (work() / "untimed.kiln").string(), untimed);
  ASSERT_TRUE(r.ok());
  for (const std::string& line : r->log) EXPECT_EQ(line.find("tactics:"), std::string::npos) << line;
  // Both engines compute the same function (different implementations sum in different orders).
  std::vector<float> image(2 * 28 * 28);
  for (size_t i = 0; i < image.size(); ++i) image[i] = static_cast<float>((i * 37) % 101) / 50.0f - 1.0f;
  std::vector<std::vector<float>> logits;
  for (const char* name : {"timed.kiln", "untimed.kiln"}) {
    auto engine = Engine::load((work() / name).string());
    ASSERT_TRUE(engine.ok()) << engine.status().message();
    auto ctx = (*engine)->create_context();
    ASSERT_TRUE(ctx.ok());
    ASSERT_TRUE((*ctx)->set_input("input", TensorView::of(image.data(), {2, 1, 28, 28})).ok());
    ASSERT_TRUE((*ctx)->run().ok());
    auto out = (*ctx)->output("logits");
    ASSERT_TRUE(out.ok());
    logits.emplace_back(out->as<float>(), out->as<float>() + out->size());
  }
  for (size_t i = 0; i < logits[0].size(); ++i) EXPECT_NEAR(logits[0][i], logits[1][i], 1e-4) << i;
}

TEST(CpuTactics, RefusesAFileThatIsNotATimingCache) {
  fs::path bogus = work() / "not_a_cache.json";
  std::ofstream(bogus) << "{\"hello\": 1}";
  BuildOptions o;
  o.timing_cache = bogus.string();
  auto r = build_engine(kModel, (work() / "x.kiln").string(), o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not_a_cache.json"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("not a kiln timing cache"), std::string::npos) << r.status().message();
  EXPECT_EQ(bytes_of(bogus), "{\"hello\": 1}") << "the user's file must not be overwritten";
}

}  // namespace
}  // namespace kiln
