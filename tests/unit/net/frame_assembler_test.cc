#include "net/frame_assembler.h"

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/coding.h"

namespace vela::net {
namespace {

// Writes `bytes` into the assembler as a socket would, in reads of at most `chunk` bytes, and
// returns the frames cut out meanwhile.
std::vector<Frame> Feed(FrameAssembler& a, std::string_view bytes, size_t chunk, Status* error = nullptr) {
  std::vector<Frame> out;
  while (!bytes.empty()) {
    char* space = a.WritableData();
    const size_t n = std::min({chunk, a.WritableSize(), bytes.size()});
    std::memcpy(space, bytes.data(), n);
    a.Commit(n);
    bytes.remove_prefix(n);
    for (;;) {
      Frame f;
      Status st;
      auto state = a.Next(&f, &st);
      if (state == FrameAssembler::State::kFrame) {
        out.push_back(std::move(f));
        continue;
      }
      if (state == FrameAssembler::State::kError && error != nullptr) *error = st;
      break;
    }
  }
  return out;
}

std::string LengthPrefix(uint32_t n) {
  std::string s(4, '\0');
  coding::PutBigEndian32(s.data(), n);
  return s;
}

std::string BodyOf(uint64_t id, size_t body_size) {
  std::string body(body_size, '\0');
  for (size_t i = 0; i < body_size; ++i) body[i] = static_cast<char>('a' + (i * 7 + id) % 26);
  return body;
}

std::string MakeFrame(uint64_t id, size_t body_size) {
  v1::Header h;
  h.set_request_id(id);
  h.set_code(v1::SEND_MESSAGE);
  return EncodeFrame(h, BodyOf(id, body_size));
}

TEST(FrameAssemblerTest, AnnouncedLengthAllocatesNothingUntilBytesArrive) {
  FrameAssembler a(kDefaultMaxFrameSize);
  Status error;
  EXPECT_TRUE(Feed(a, LengthPrefix(16 * 1024 * 1024 - 4), 4096, &error).empty());
  EXPECT_TRUE(error.ok());
  EXPECT_EQ(a.buffered(), 4u);
  EXPECT_LE(a.capacity(), FrameAssembler::kReadChunk);
  // As bytes come, the buffer stays within twice what arrived plus one chunk.
  std::string part(3 * 1024 * 1024, 'x');
  for (size_t sent = 0; sent < part.size(); sent += 256 * 1024) {
    Feed(a, std::string_view(part).substr(sent, 256 * 1024), 64 * 1024);
    EXPECT_LE(a.capacity(), 2 * a.buffered() + FrameAssembler::kReadChunk) << "after " << sent;
  }
}

TEST(FrameAssemblerTest, FramesSurviveAnySplitting) {
  std::string stream;
  std::vector<size_t> sizes = {0, 1, 100, 70000, 5, 300000, 64 * 1024, 3};
  for (size_t i = 0; i < sizes.size(); ++i) stream += MakeFrame(i + 1, sizes[i]);
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{4096}, size_t{1} << 20}) {
    FrameAssembler a(kDefaultMaxFrameSize);
    auto frames = Feed(a, stream, chunk);
    ASSERT_EQ(frames.size(), sizes.size()) << "chunk " << chunk;
    for (size_t i = 0; i < sizes.size(); ++i) {
      EXPECT_EQ(frames[i].header.request_id(), i + 1);
      EXPECT_EQ(frames[i].body, BodyOf(i + 1, sizes[i]));
    }
    EXPECT_EQ(a.buffered(), 0u);
  }
}

// While large frames keep coming the grown buffer is kept; once the peer sends small frames
// again it is given back.
TEST(FrameAssemblerTest, KeepsAGrownBufferForLargeFramesOnly) {
  FrameAssembler a(kDefaultMaxFrameSize);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Feed(a, MakeFrame(i, 2 * 1024 * 1024), 64 * 1024).size(), 1u);
    a.AfterRead();
    EXPECT_GT(a.capacity(), 2u * 1024 * 1024);
  }
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(Feed(a, MakeFrame(i, 100), 64 * 1024).size(), 1u);
    a.AfterRead();
  }
  EXPECT_LE(a.capacity(), FrameAssembler::kReadChunk);  // given back (and a fresh chunk taken)
}

TEST(FrameAssemblerTest, GivesBackALargeBufferOnceEmpty) {
  FrameAssembler a(kDefaultMaxFrameSize);
  auto frames = Feed(a, MakeFrame(1, 2 * 1024 * 1024), 64 * 1024);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_GT(a.capacity(), 1024u * 1024u);
  a.ShrinkIfEmpty();
  EXPECT_EQ(a.capacity(), 0u);
  // And works again afterwards.
  EXPECT_EQ(Feed(a, MakeFrame(2, 10), 3).size(), 1u);
}

TEST(FrameAssemblerTest, BadFramesFailWithTheirReasonAndStayFailed) {
  {
    FrameAssembler a(1024);
    Status error;
    Feed(a, LengthPrefix(4096), 64, &error);
    EXPECT_EQ(error.subcode(), SubCode::kFrameTooLarge);
    Frame f;
    Status again;
    EXPECT_EQ(a.Next(&f, &again), FrameAssembler::State::kError);
    EXPECT_EQ(again.message(), error.message());
  }
  {
    // A header length over the cap that overruns its frame is named as over the cap.
    FrameAssembler a(kDefaultMaxFrameSize);
    std::string frame = LengthPrefix(4 + 100) + LengthPrefix(2 * 1024 * 1024) + std::string(100, '\0');
    Status error;
    Feed(a, frame, 1000, &error);
    EXPECT_EQ(error.message(), "header of 2097152 bytes exceeds the 1024 KiB cap");
  }
  {
    FrameAssembler a(kDefaultMaxFrameSize);
    std::string frame = LengthPrefix(4 + 10) + LengthPrefix(50) + std::string(10, '\0');
    Status error;
    Feed(a, frame, 1000, &error);
    EXPECT_NE(error.message().find("overruns the frame"), std::string::npos) << error.message();
  }
}

// A sound frame whose header is over the cap is refused alone, on its request id; the frames
// after it are cut as usual.
TEST(FrameAssemblerTest, AHeaderOverTheCapIsRefusedAloneAndTheStreamGoesOn) {
  v1::Header big;
  big.set_request_id(77);
  big.set_code(v1::PULL_MESSAGE);
  big.mutable_pull_request()->set_expression(std::string(kMaxHeaderSize + 1, 'x'));
  const std::string stream = EncodeFrame(big, "body") + MakeFrame(78, 10);
  FrameAssembler a(kDefaultMaxFrameSize);
  std::vector<FrameAssembler::State> states;
  std::string_view rest = stream;
  Frame refused, next;
  Status error;
  while (!rest.empty()) {
    char* space = a.WritableData();
    const size_t n = std::min(a.WritableSize(), rest.size());
    std::memcpy(space, rest.data(), n);
    a.Commit(n);
    rest.remove_prefix(n);
    for (;;) {
      Frame f;
      Status st;
      const auto state = a.Next(&f, &st);
      if (state == FrameAssembler::State::kNeedMore) break;
      states.push_back(state);
      if (state == FrameAssembler::State::kRefused) {
        refused = std::move(f);
        error = st;
      } else if (state == FrameAssembler::State::kFrame) {
        next = std::move(f);
      } else {
        break;
      }
    }
  }
  ASSERT_EQ(states, (std::vector<FrameAssembler::State>{FrameAssembler::State::kRefused, FrameAssembler::State::kFrame}));
  EXPECT_EQ(refused.header.request_id(), 77u);
  EXPECT_EQ(refused.header.code(), v1::PULL_MESSAGE);
  EXPECT_FALSE(refused.header.has_pull_request());
  EXPECT_TRUE(refused.body.empty());
  EXPECT_NE(error.message().find("exceeds the 1024 KiB cap"), std::string::npos) << error.message();
  EXPECT_EQ(next.header.request_id(), 78u);
  EXPECT_EQ(next.body, BodyOf(78, 10));
}

}  // namespace
}  // namespace vela::net
