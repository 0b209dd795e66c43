// WsHub: fan-out order, O(1) unsubscribe keeping the others, history replay
// for `since`, the too-old / unknown verdicts, the history bounds,
// heartbeats on quiet channels only; and splitting array frames.
#include <gtest/gtest.h>

#include "gateway/ws_frame.h"
#include "gateway/ws_hub.h"

namespace bourse::gateway {
namespace {

struct Recorder final : WsSubscriber {
  std::vector<std::string> got;
  bool relay_attached(std::string_view, uint64_t) override { return true; }
  bool deliver(const WsChannelInfo&, uint64_t, uint64_t, const SharedMessage& m) override {
    got.push_back(*m);
    return !start_requested;
  }
  void start() override {
    start_requested = false;
    ++starts;
  }
  bool start_requested = false;
  int starts = 0;
};

SharedMessage text(const std::string& s) { return std::make_shared<const std::string>(s); }
const WsChannelInfo kTrades{"trades.X", Delivery::kEvery, true};

TEST(WsHub, DeliversToEverySubscriberAndUnsubscribesInConstantTime) {
  WsHub hub;
  std::vector<std::shared_ptr<Recorder>> subs;
  for (int i = 0; i < 5; ++i) {
    subs.push_back(std::make_shared<Recorder>());
    EXPECT_TRUE(hub.subscribe(kTrades, subs.back(), std::nullopt, nullptr));
  }
  EXPECT_FALSE(hub.subscribe(kTrades, subs[0], std::nullopt, nullptr));
  hub.publish("trades.X", 1, 0, text("a"), 0);
  EXPECT_TRUE(hub.unsubscribe("trades.X", subs[1].get()));
  EXPECT_FALSE(hub.unsubscribe("trades.X", subs[1].get()));
  hub.publish("trades.X", 2, 0, text("b"), 0);
  EXPECT_EQ(subs[1]->got, std::vector<std::string>({"a"}));
  for (int i : {0, 2, 3, 4}) EXPECT_EQ(subs[i]->got, std::vector<std::string>({"a", "b"})) << i;
  EXPECT_EQ(hub.subscriber_count("trades.X"), 4u);
  // Public channels outlive their subscribers (their history serves resumes).
  for (int i : {0, 2, 3, 4}) hub.unsubscribe("trades.X", subs[i].get());
  EXPECT_TRUE(hub.wants("trades.X"));
  // Private ones go with their last subscriber.
  const WsChannelInfo orders{"orders:7", Delivery::kEvery, false};
  hub.subscribe(orders, subs[0], std::nullopt, nullptr);
  hub.unsubscribe_all(subs[0].get(), {"orders:7"});
  EXPECT_FALSE(hub.wants("orders:7"));
}

TEST(WsHub, SinceReplaysFromHistoryOrSaysWhyItCannot) {
  WsHub::Limits limits;
  limits.history_messages = 3;
  WsHub hub(limits);
  auto first = std::make_shared<Recorder>();
  hub.subscribe(kTrades, first, std::nullopt, nullptr);
  for (uint64_t seq = 11; seq <= 15; ++seq) hub.publish("trades.X", seq, 0, text(std::to_string(seq)), 0);
  auto verdict = [&](std::optional<uint64_t> since, std::vector<std::string>* got) {
    auto s = std::make_shared<Recorder>();
    WsHub::Resume resume{};
    uint64_t last = 0;
    hub.subscribe(kTrades, s, since, [&](WsHub::Resume r, uint64_t l) {
      resume = r;
      last = l;
    });
    EXPECT_EQ(last, 15u);
    *got = s->got;
    hub.unsubscribe("trades.X", s.get());  // the hub keeps plain pointers: leave before going
    return resume;
  };
  std::vector<std::string> got;
  EXPECT_EQ(verdict(12, &got), WsHub::Resume::kReplayed);  // history holds 13..15
  EXPECT_EQ(got, std::vector<std::string>({"13", "14", "15"}));
  EXPECT_EQ(verdict(14, &got), WsHub::Resume::kReplayed);
  EXPECT_EQ(got, std::vector<std::string>({"15"}));
  EXPECT_EQ(verdict(15, &got), WsHub::Resume::kCurrent);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(verdict(11, &got), WsHub::Resume::kTooOld);  // 12 is gone
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(verdict(99, &got), WsHub::Resume::kUnknown);
  EXPECT_EQ(verdict(std::nullopt, &got), WsHub::Resume::kNone);
}

TEST(WsHub, HistoryIsBoundedInBytesToo) {
  WsHub::Limits limits;
  limits.history_messages = 100;
  limits.history_bytes = 10;
  WsHub hub(limits);
  auto s = std::make_shared<Recorder>();
  hub.subscribe(kTrades, s, std::nullopt, nullptr);
  for (uint64_t seq = 1; seq <= 5; ++seq) hub.publish("trades.X", seq, 0, text("four"), 0);
  WsHub::Resume resume{};
  auto late = std::make_shared<Recorder>();
  hub.subscribe(kTrades, late, 2, [&](WsHub::Resume r, uint64_t) { resume = r; });
  EXPECT_EQ(resume, WsHub::Resume::kTooOld);  // 10 bytes hold two 4-byte messages: 4 and 5
}

TEST(WsHub, HeartbeatsOnlyOnQuietChannels) {
  WsHub::Limits limits;
  limits.heartbeat_ns = 1'000;
  WsHub hub(limits);
  auto s = std::make_shared<Recorder>();
  hub.subscribe(kTrades, s, std::nullopt, nullptr);
  hub.subscribe(WsChannelInfo{"book.X", Delivery::kBook, true}, s, std::nullopt, nullptr);
  hub.publish("trades.X", 7, 0, text("t"), 10'000);
  hub.heartbeat(10'500);  // trades.X spoke 500 ns ago; book.X never did
  ASSERT_EQ(s->got.size(), 2u);
  EXPECT_NE(s->got[1].find("\"channel\":\"book.X\",\"type\":\"heartbeat\",\"seq\":null"), std::string::npos) << s->got[1];
  hub.heartbeat(11'000);
  ASSERT_EQ(s->got.size(), 3u);
  EXPECT_NE(s->got[2].find("\"channel\":\"trades.X\",\"type\":\"heartbeat\",\"seq\":7"), std::string::npos) << s->got[2];
}

TEST(WsFrame, SplitsArraysAndLeavesObjectsWhole) {
  std::vector<std::string_view> m;
  EXPECT_TRUE(split_ws_frame(R"({"a":1})", &m));
  EXPECT_EQ(m, std::vector<std::string_view>({R"({"a":1})"}));
  EXPECT_TRUE(split_ws_frame(R"([{"a":"]}"},{"b":[1,{"c":"\"}"}]}])", &m));
  EXPECT_EQ(m, std::vector<std::string_view>({R"({"a":"]}"})", R"({"b":[1,{"c":"\"}"}]})"}));
  EXPECT_FALSE(split_ws_frame(R"([{"a":1},{"b")", &m));
  EXPECT_EQ(m.size(), 1u);
}

}  // namespace
}  // namespace bourse::gateway

#include "gateway/render.h"

namespace bourse::gateway {
namespace {

TEST(BookChecksum, MatchesTheDocumentedExample) {
  // docs/websocket.md: "64999.95:0.01100000|65000.07:0.00500000" → 2517105589.
  marketdata::InstrumentInfo info;
  info.spec.price_scale = 2;
  info.base.scale = 8;
  marketdata::BookSnapshot book;
  book.bids.push_back({Price{6'499'995}, Qty{1'100'000}, 1});
  book.asks.push_back({Price{6'500'007}, Qty{500'000}, 1});
  EXPECT_EQ(book_checksum(info, book), 2517105589u);
  // Only the best 10 of each side count.
  for (int k = 1; k <= 12; ++k) book.bids.push_back({Price{6'499'995 - k}, Qty{100'000}, 1});
  const uint32_t with_twelve = book_checksum(info, book);
  book.bids.pop_back();
  EXPECT_EQ(book_checksum(info, book), with_twelve);
}

}  // namespace
}  // namespace bourse::gateway

namespace bourse::gateway {
namespace {

TEST(WsHub, CountersStartAtTheBaseAndMultiplexedChannelsHaveNoSequence) {
  WsHub hub({}, 1'000);  // e.g. the engine's seq at start-up
  // Nothing published yet: the channel stands at its counter, the base.
  auto s = std::make_shared<Recorder>();
  WsHub::Resume resume{};
  uint64_t seq = 0;
  hub.subscribe(kTrades, s, 400, [&](WsHub::Resume r, uint64_t at) {
    resume = r;
    seq = at;
  });
  EXPECT_EQ(resume, WsHub::Resume::kTooOld);  // from before the restart: snapshot
  EXPECT_EQ(seq, 1'000u);
  EXPECT_EQ(hub.next_seq("trades.X"), 1'001u);
  EXPECT_EQ(hub.next_seq("trades.X"), 1'002u);
  EXPECT_EQ(hub.next_seq("trades.Y"), 1'001u);  // per channel
  // ticker.*: carries other channels' sequences, so none of its own.
  const WsChannelInfo all{"ticker.*", Delivery::kLatest, false, true};
  auto t = std::make_shared<Recorder>();
  hub.subscribe(all, t, std::nullopt, nullptr);
  hub.publish("ticker.*", 77, 1, text("m"), 0);
  hub.subscribe(all, s, 77, [&](WsHub::Resume r, uint64_t at) {
    resume = r;
    seq = at;
  });
  EXPECT_EQ(resume, WsHub::Resume::kUnknown);  // always a fresh snapshot
  EXPECT_EQ(seq, 0u);
  hub.heartbeat(INT64_MAX);
  ASSERT_FALSE(t->got.empty());
  EXPECT_NE(t->got.back().find("\"seq\":null"), std::string::npos) << t->got.back();
  hub.unsubscribe("ticker.*", t.get());
  hub.unsubscribe_all(s.get(), {"ticker.*", "trades.X"});
}

// The main process's side of a worker link: the link registers once; what
// one of the worker's clients missed goes to the replay sink, not to the
// link's live stream.
TEST(WsHub, AttachRelayRegistersOnceAndReplaysToTheSink) {
  WsHub hub;
  auto link = std::make_shared<Recorder>(), client = std::make_shared<Recorder>();
  hub.subscribe(kTrades, client, std::nullopt, nullptr);
  for (uint64_t seq = 1; seq <= 5; ++seq) hub.publish("trades.X", seq, 0, text("m" + std::to_string(seq)), 0);
  std::vector<std::string> replayed;
  WsHub::Resume resume = WsHub::Resume::kNone;
  uint64_t last = 0;
  auto sink = [&](uint64_t, uint64_t, const SharedMessage& m) { replayed.push_back(*m); };
  auto after = [&](WsHub::Resume r, uint64_t at) {
    resume = r;
    last = at;
  };
  hub.attach_relay(kTrades, link, 3, sink, after);
  EXPECT_EQ(resume, WsHub::Resume::kReplayed);
  EXPECT_EQ(last, 5u);
  EXPECT_EQ(replayed, (std::vector<std::string>{"m4", "m5"}));
  EXPECT_TRUE(link->got.empty()) << "the replay is owed to one client, not to the link";
  hub.attach_relay(kTrades, link, std::nullopt, sink, after);  // a second client: no second registration
  hub.publish("trades.X", 6, 0, text("m6"), 0);
  EXPECT_EQ(link->got, (std::vector<std::string>{"m6"}));
}

// Inside a worker: a client resumes locally only when the worker's own
// history covers it; otherwise nothing happens and the main process is asked.
TEST(WsHub, WorkerResumesLocallyOnlyWhenItsHistoryCovers) {
  WsHub hub;
  auto first = std::make_shared<Recorder>();
  EXPECT_FALSE(hub.subscribe_if_resumable(kTrades, first, std::nullopt, false)) << "not attached yet";
  EXPECT_TRUE(hub.relay_register(kTrades, first, 1, 10));
  EXPECT_FALSE(hub.relay_register(kTrades, first, 1, 10));
  EXPECT_EQ(hub.last_seq("trades.X"), 10u);
  hub.publish("trades.X", 11, 0, text("m11"), 0);
  hub.publish("trades.X", 12, 0, text("m12"), 0);
  auto resumer = std::make_shared<Recorder>();
  EXPECT_TRUE(hub.subscribe_if_resumable(kTrades, resumer, 10, false));
  EXPECT_EQ(resumer->got, (std::vector<std::string>{"m11", "m12"}));
  auto old = std::make_shared<Recorder>(), ahead = std::make_shared<Recorder>(), fresh = std::make_shared<Recorder>();
  EXPECT_FALSE(hub.subscribe_if_resumable(kTrades, old, 5, false)) << "before this worker's history";
  EXPECT_FALSE(hub.subscribe_if_resumable(kTrades, ahead, 13, false)) << "ahead of this worker";
  EXPECT_FALSE(hub.subscribe_if_resumable(kTrades, fresh, std::nullopt, true)) << "a snapshot is owed";
  EXPECT_TRUE(hub.subscribe_if_resumable(kTrades, fresh, std::nullopt, false));
  EXPECT_EQ(hub.subscriber_count("trades.X"), 3u);
  hub.publish("trades.X", 13, 0, text("m13"), 0);
  EXPECT_EQ(fresh->got, (std::vector<std::string>{"m13"}));
  EXPECT_TRUE(old->got.empty());
}

}  // namespace
}  // namespace bourse::gateway
