// The worker link's frames: every type round-trips, a frame split anywhere
// waits for the rest, and corrupt lengths or trailing bytes are errors.
#include <gtest/gtest.h>

#include "gateway/md_link.h"

namespace bourse::gateway {
namespace {

TEST(MdLink, EveryFrameRoundTripsAndPartialFramesWait) {
  std::string wire;
  encode_directory(wire, {{1, "BTC-USD"}, {7, "TCS-INR"}});
  encode_message(wire, 42, 9, "trades.BTC-USD", R"({"channel":"trades.BTC-USD"})");
  encode_batch_end(wire);
  encode_replay(wire, 5, 41, 9, "trades.BTC-USD", "old");
  encode_snapshot(wire, 6, 3, "book.BTC-USD", std::string(100'000, 'x'));
  encode_attached(wire, 6, 40, "book.BTC-USD");
  encode_attach(wire, 8, kAttachHasSince | kAttachForceSnapshot, 1234, "book10.ETH-USD");
  encode_ready(wire);

  std::vector<LinkFrame> frames;
  std::string_view in(wire);
  while (!in.empty()) {
    LinkFrame f;
    std::size_t used = 0;
    ASSERT_EQ(decode_link_frame(in, &f, &used), LinkDecode::kFrame);
    // Every shorter prefix of the frame only asks for more.
    for (std::size_t cut : {std::size_t{0}, std::size_t{3}, std::size_t{5}, used - 1}) {
      LinkFrame partial;
      std::size_t ignored = 0;
      if (cut < used) {
        EXPECT_EQ(decode_link_frame(in.substr(0, cut), &partial, &ignored), LinkDecode::kNeedMore) << cut;
      }
    }
    frames.push_back(f);
    in.remove_prefix(used);
  }
  ASSERT_EQ(frames.size(), 8u);
  EXPECT_EQ(frames[0].type, LinkType::kDirectory);
  ASSERT_EQ(frames[0].directory.size(), 2u);
  EXPECT_EQ(frames[0].directory[1].first, 7u);
  EXPECT_EQ(frames[0].directory[1].second, "TCS-INR");
  EXPECT_EQ(frames[1].type, LinkType::kMessage);
  EXPECT_EQ(frames[1].seq, 42u);
  EXPECT_EQ(frames[1].key, 9u);
  EXPECT_EQ(frames[1].channel, "trades.BTC-USD");
  EXPECT_EQ(frames[1].message, R"({"channel":"trades.BTC-USD"})");
  EXPECT_EQ(frames[2].type, LinkType::kBatchEnd);
  EXPECT_EQ(frames[3].type, LinkType::kReplay);
  EXPECT_EQ(frames[3].request, 5u);
  EXPECT_EQ(frames[3].seq, 41u);
  EXPECT_EQ(frames[3].message, "old");
  EXPECT_EQ(frames[4].type, LinkType::kSnapshot);
  EXPECT_EQ(frames[4].message.size(), 100'000u);
  EXPECT_EQ(frames[5].type, LinkType::kAttached);
  EXPECT_EQ(frames[5].seq, 40u);
  EXPECT_EQ(frames[6].type, LinkType::kAttach);
  EXPECT_EQ(frames[6].flags, kAttachHasSince | kAttachForceSnapshot);
  EXPECT_EQ(frames[6].seq, 1234u);
  EXPECT_EQ(frames[6].channel, "book10.ETH-USD");
  EXPECT_EQ(frames[7].type, LinkType::kReady);
}

TEST(MdLink, CorruptFramesAreErrors) {
  LinkFrame f;
  std::size_t used = 0;
  std::string frame;
  encode_attached(frame, 1, 2, "trades.BTC-USD");
  std::string trailing = frame;
  trailing[0] = static_cast<char>(trailing[0] + 1);  // claims one byte more than its fields
  trailing += 'x';
  EXPECT_EQ(decode_link_frame(trailing, &f, &used), LinkDecode::kError);
  std::string unknown = frame;
  unknown[4] = 99;
  EXPECT_EQ(decode_link_frame(unknown, &f, &used), LinkDecode::kError);
  const std::string huge("\xff\xff\xff\x7f\x02", 5);
  EXPECT_EQ(decode_link_frame(huge, &f, &used), LinkDecode::kError);
  const std::string empty("\x00\x00\x00\x00", 4);
  EXPECT_EQ(decode_link_frame(empty, &f, &used), LinkDecode::kError);
  std::string directory;
  encode_directory(directory, {{1, "A"}});
  directory[5] = 100;  // count: more entries than the frame can hold
  EXPECT_EQ(decode_link_frame(directory, &f, &used), LinkDecode::kError);
}

}  // namespace
}  // namespace bourse::gateway
