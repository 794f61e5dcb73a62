// The .kiln engine file: round trip with zero-copy weights, determinism, atomic writes, and a specific
// refusal for each kind of damage (magic, newer version, truncation, checksum, backend).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/file_util.h"
#include "engine/engine_file.h"
#include "engine/engine_layout.h"
#include "ir/text_format.h"

using namespace kiln;
namespace fs = std::filesystem;

namespace {

const char* kGraphText = R"(kiln-ir 1
graph "tiny"
producer "engine test"
opset "" 13
input %x: f32[N,4]
const %w: f32[4,4] = [1, 2, 3, 4, 5, 6, 7, 8, -1, -2, -3, -4, 0.5, 0.25, 0.125, 1e-08]
const %b: f32[4] = [0.5, -1, 2, 0]
const %half: f16[9] = [1, -0.5, 65504, 0, -0, 2, 3, 4, 5]
const %q: i8[17] = [-128, -1, 0, 1, 127, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
const %shape: i64[2] = [-1, 2]
const %mask: bool[17] = [true, false, false, true, true, true, true, true, true, true, true, true, true, true, true, false, true]
const %labels: string[2] = ["a", "b c"]
const %empty: f32[0] = []
node "mm" MatMul<13>(%x, %w) -> (%y: f32[N,4])
node "add" Add<13>(%y, %b) -> (%z: f32[N,4])
node "relu" Relu<13>(%z) -> (%r: f32[N,4])
node "reshape" Reshape<13>(%r, %shape) -> (%s: f32[?,2])
output %s
)";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

nlohmann::json cpu_metadata() {
  return {{"backend", {{"name", "cpu-ref"}}},
          {"precision", "fp32"},
          {"source_model", {{"path", "tiny.onnx"}, {"xxh3_128", source_model_hash("tiny")}}},
          {"kernels", {{"mm", "gemm_f32"}, {"relu", "relu_f32"}}},
          {"memory_plan", {{"arena_bytes", 128}, {"values", {{"y", {{"offset", 0}, {"size", 64}}}}}}}};
}

Graph tiny_graph() {
  auto g = parse_graph(kGraphText);
  EXPECT_TRUE(g.ok()) << g.status().message();
  return std::move(*g);
}

class EngineFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("kiln_engine_{}_{}", ::getpid(), ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "tiny.kiln").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string bytes() {
    auto b = serialize_engine(graph_, cpu_metadata());
    EXPECT_TRUE(b.ok()) << b.status().message();
    return *b;
  }
  // Writes damaged bytes to a file and returns the reader's error message ("" if it loaded).
  std::string load_error(const std::string& data, const EngineReadOptions& options = {{"cpu-ref"}}) {
    std::string p = (dir_ / "damaged.kiln").string();
    std::ofstream(p, std::ios::binary | std::ios::trunc).write(data.data(), static_cast<std::streamsize>(data.size()));
    auto r = read_engine(p, options);
    return r.ok() ? "" : r.status().message();
  }

  fs::path dir_;
  std::string path_;
  Graph graph_ = tiny_graph();
};

uint64_t section_offset(const std::string& file, uint32_t kind) {
  using namespace engine_layout;
  auto count = load<uint32_t>(file.data(), kSectionCountAt);
  for (uint32_t i = 0; i < count; ++i) {
    size_t at = kHeaderSize + i * kSectionEntrySize;
    if (load<uint32_t>(file.data(), at) == kind) return load<uint64_t>(file.data(), at + 8);
  }
  ADD_FAILURE() << "no section " << kind;
  return 0;
}

void reseal(std::string& file) {  // recomputes the checksum after a deliberate edit
  engine_layout::store<uint64_t>(file, engine_layout::kChecksumAt, engine_layout::file_checksum(file.data(), file.size()));
}

}  // namespace

TEST_F(EngineFileTest, RoundTripKeepsGraphAndConstantBytesWithZeroCopyWeights) {
  ASSERT_TRUE(write_engine(path_, graph_, cpu_metadata()).ok());
  auto loaded = read_engine(path_, {.supported_backends = {"cpu-ref"}});
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(print_graph(loaded->graph), print_graph(graph_));
  EXPECT_EQ(loaded->format_version, kEngineFormatVersion);
  EXPECT_EQ(loaded->blob_count, 4u);  // w, half, q, mask: strings and constants of <= 16 bytes stay inline

  for (const char* name : {"w", "b", "half", "q", "shape", "mask", "labels", "empty"}) {
    SCOPED_TRACE(name);
    const Value* a = graph_.find_value(name);
    const Value* b = loaded->graph.find_value(name);
    ASSERT_TRUE(b && b->is_constant());
    ASSERT_EQ(b->constant->type_string(), a->constant->type_string());
    if (a->constant->dtype() == DataType::kString) {
      EXPECT_EQ(b->constant->data<std::string>()[1], "b c");
      continue;
    }
    ASSERT_EQ(b->constant->byte_size(), a->constant->byte_size());
    if (a->constant->byte_size() == 0) continue;
    EXPECT_EQ(std::memcmp(a->constant->raw(), b->constant->raw(), a->constant->byte_size()), 0);
    if (a->constant->byte_size() <= 16) continue;  // inline in the graph text (b, shape), not a blob
    EXPECT_TRUE(loaded->mapping->contains(b->constant->raw(), b->constant->byte_size()));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b->constant->raw()) % kEngineBlobAlignment, 0u);
  }

  // Metadata as given, plus what the writer fills in.
  EXPECT_EQ(loaded->metadata["kernels"]["mm"], "gemm_f32");
  EXPECT_EQ(loaded->metadata["memory_plan"]["arena_bytes"], 128);
  EXPECT_TRUE(contains(loaded->metadata["producer"].get<std::string>(), "kiln "));
  EXPECT_EQ(loaded->metadata["io"]["inputs"][0]["name"], "x");
  EXPECT_EQ(loaded->metadata["io"]["inputs"][0]["shape"], nlohmann::json::parse(R"(["N", 4])"));
  EXPECT_EQ(loaded->metadata["io"]["outputs"][0]["shape"], nlohmann::json::parse(R"([null, 2])"));

  // The constants keep the mapping alive on their own.
  Graph graph = std::move(loaded->graph);
  loaded = Status::internal("dropped");
  EXPECT_EQ(graph.find_value("b")->constant->data<float>()[2], 2.0f);

  auto meta = read_engine_metadata(path_);
  ASSERT_TRUE(meta.ok()) << meta.status().message();
  EXPECT_EQ((*meta)["backend"]["name"], "cpu-ref");
}

TEST_F(EngineFileTest, SameInputGivesByteIdenticalFiles) {
  std::string other = (dir_ / "again.kiln").string();
  ASSERT_TRUE(write_engine(path_, graph_, cpu_metadata()).ok());
  ASSERT_TRUE(write_engine(other, tiny_graph(), cpu_metadata()).ok());
  auto a = read_file(path_), b = read_file(other);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*a, bytes());
}

TEST_F(EngineFileTest, WriteIsAtomicAndReplacesOnlyOnSuccess) {
  ASSERT_TRUE(write_engine(path_, graph_, cpu_metadata()).ok());
  auto before = read_file(path_);
  ASSERT_TRUE(before.ok());

  auto bad = write_engine(path_, graph_, nlohmann::json{{"precision", "fp32"}});  // no backend
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(contains(bad.message(), "backend")) << bad.message();
  EXPECT_EQ(*read_file(path_), *before);

  fs::create_directories(dir_ / "occupied.kiln");  // rename over a folder fails after the temp file exists
  auto blocked = write_engine((dir_ / "occupied.kiln").string(), graph_, cpu_metadata());
  EXPECT_FALSE(blocked.ok());

  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"occupied.kiln", "tiny.kiln"}));
}

TEST_F(EngineFileTest, RefusesMissingFileAndWrongMagic) {
  auto missing = read_engine((dir_ / "nope.kiln").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "engine file not found: " + (dir_ / "nope.kiln").string());

  std::string file = bytes();
  std::memcpy(file.data(), "GGUF", 4);
  std::string m = load_error(file);
  EXPECT_TRUE(contains(m, "damaged.kiln is not a kiln engine file (it starts with \"GGUFENG\\x00\"")) << m;
  EXPECT_TRUE(contains(load_error(""), "is empty")) << load_error("");
}

TEST_F(EngineFileTest, RefusesNewerFormatVersion) {
  std::string file = bytes();
  engine_layout::store<uint32_t>(file, engine_layout::kVersionAt, kEngineFormatVersion + 1);
  reseal(file);
  std::string m = load_error(file);
  EXPECT_TRUE(contains(m, "has format version 2, newer than this kiln reads (up to 1)")) << m;
  EXPECT_TRUE(contains(m, "damaged.kiln")) << m;
}

TEST_F(EngineFileTest, RefusesTruncatedFilesAtEveryCut) {
  std::string file = bytes();
  for (size_t cut : {size_t{3}, size_t{8}, size_t{40}, size_t{64}, size_t{100}, file.size() / 2, file.size() - 1}) {
    std::string m = load_error(file.substr(0, cut));
    EXPECT_TRUE(contains(m, "is truncated")) << "cut at " << cut << ": " << m;
  }
}

TEST_F(EngineFileTest, ChecksumCatchesFlippedBytes) {
  std::string file = bytes();
  uint64_t weights = section_offset(file, engine_layout::kWeights);
  uint64_t metadata = section_offset(file, engine_layout::kMetadata);
  for (uint64_t at : {weights + 5, metadata + 10, uint64_t{engine_layout::kTableOffsetAt},
                      uint64_t{engine_layout::kHeaderSize + 8}, uint64_t{file.size() - 1}}) {
    std::string damaged = file;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x10);
    std::string m = load_error(damaged);
    EXPECT_TRUE(contains(m, "damaged.kiln is corrupted: checksum mismatch")) << "byte " << at << ": " << m;
  }
  std::string damaged = file;
  damaged[metadata + 10] ^= 0x10;
  std::ofstream(path_, std::ios::binary).write(damaged.data(), static_cast<std::streamsize>(damaged.size()));
  auto meta = read_engine_metadata(path_);
  ASSERT_FALSE(meta.ok());
  EXPECT_TRUE(contains(meta.status().message(), "checksum mismatch")) << meta.status().message();
}

TEST_F(EngineFileTest, RefusesAnEngineForAnotherBackend) {
  nlohmann::json meta = cpu_metadata();
  meta["backend"] = {{"name", "cuda"}, {"compute_capability", "9.0"}};
  ASSERT_TRUE(write_engine(path_, graph_, meta).ok());
  auto r = read_engine(path_, {.supported_backends = {"cpu-ref", "cpu"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(r.status().message(),
            "engine file " + path_ + " was built for backend 'cuda', this runtime supports cpu-ref, cpu");

  EngineReadOptions options{.supported_backends = {"cuda"}, .check_backend = [](const nlohmann::json& b) {
    return b["compute_capability"] == "9.0" ? Status::unsupported("needs compute capability 9.0, this GPU has 8.6")
                                            : Status();
  }};
  auto r2 = read_engine(path_, options);
  ASSERT_FALSE(r2.ok());
  EXPECT_TRUE(contains(r2.status().message(), "(backend 'cuda'): needs compute capability 9.0")) << r2.status().message();
  EXPECT_TRUE(read_engine(path_).ok());  // no backend list: inspection accepts any
}

// Random damage must give errors (or, for a resealed file, possibly a load), never a crash or an overrun.
TEST_F(EngineFileTest, RandomDamageNeverCrashes) {
  std::string file = bytes();
  uint32_t seed = 12345;
  auto next = [&] { return seed = seed * 1664525u + 1013904223u; };
  for (int i = 0; i < 300; ++i) {
    std::string damaged = file;
    if (i % 3 == 0) {
      damaged.resize(next() % file.size());
      EXPECT_NE(load_error(damaged), "") << "cut at " << damaged.size();
      continue;
    }
    for (int flips = 1 + static_cast<int>(next() % 3); flips > 0; --flips)
      damaged[next() % damaged.size()] ^= static_cast<char>(1 + next() % 255);
    EXPECT_NE(load_error(damaged), "") << "iteration " << i;  // the checksum sees every flip
    reseal(damaged);  // past the checksum: the structure checks and parsers must hold on their own
    (void)load_error(damaged);
    (void)load_error(damaged, {.verify_checksum = false});
  }
}

// A crafted file can carry a valid checksum: offsets and sizes are still checked before use.
TEST_F(EngineFileTest, StructureIsCheckedEvenWithAValidChecksum) {
  using namespace engine_layout;
  std::string file = bytes();
  std::string huge = file;
  store<uint64_t>(huge, kHeaderSize + 3 * kSectionEntrySize + 16, uint64_t{1} << 62);  // WEIGHTS size
  reseal(huge);
  std::string m = load_error(huge);
  EXPECT_TRUE(contains(m, "is corrupted: section WEIGHTS")) << m;
  EXPECT_TRUE(contains(m, "lies outside the file")) << m;

  std::string misaligned = file;
  size_t at = misaligned.find("\"offset\":64,");
  ASSERT_NE(at, std::string::npos);
  misaligned.replace(at, 12, "\"offset\":65,");
  reseal(misaligned);
  m = load_error(misaligned);
  EXPECT_TRUE(contains(m, "blob blob_1 (18 bytes at 65) is misaligned or outside WEIGHTS")) << m;

  std::string dangling = file;
  at = dangling.find("@blob_3");
  ASSERT_NE(at, std::string::npos);
  dangling.replace(at, 7, "@blob_9");
  reseal(dangling);
  m = load_error(dangling);
  EXPECT_TRUE(contains(m, "is corrupted: GRAPH section")) << m;
  EXPECT_TRUE(contains(m, "no blob 'blob_9'")) << m;
}
