// EngineService: commands from several threads, outcomes after durability,
// listeners see every event once and in order before the completions, stop()
// drains, and a reopened data directory has the same state.
#include "bourse/sequencer/engine_service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "engine/random_commands.h"

namespace bourse {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/bourse-service-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

EngineServiceOptions options_for(const std::string& dir, bool fsync) {
  EngineServiceOptions o;
  o.exchange.data_dir = dir;
  o.exchange.engine = testing::RandomCommandConfig{}.engine;
  o.exchange.fsync = fsync;
  o.inbound_capacity = 64;  // small: producers meet a full queue
  o.outbound_capacity = 64;
  return o;
}

// Records everything the dispatcher hands out, and checks ordering.
class Recorder final : public EventListener {
 public:
  void on_durable_batch(std::span<const Event> events) override {
    for (const Event& e : events) {
      EXPECT_GE(e.cause.seq, last_seq) << "listener events out of order";
      last_seq = e.cause.seq;
    }
    count.fetch_add(events.size());
  }
  Seq last_seq = 0;  // dispatcher thread only
  std::atomic<std::size_t> count{0};
};

class CountingCompletion final : public CommandCompletion {
 public:
  explicit CountingCompletion(const Recorder* recorder) : recorder_(recorder) {}
  void complete(const CommandOutcome& outcome) override {
    EXPECT_TRUE(outcome.durable);
    EXPECT_GT(outcome.seq, 0u);
    for (const Event& e : outcome.events) EXPECT_EQ(e.cause.seq, outcome.seq);
    // The listener has already seen this command's events.
    EXPECT_GE(recorder_->last_seq, outcome.events.empty() ? 0 : outcome.seq);
    events.fetch_add(outcome.events.size());
    calls.fetch_add(1);
  }
  std::atomic<std::size_t> events{0};
  std::atomic<int> calls{0};

 private:
  const Recorder* recorder_;
};

TEST(EngineService, ConcurrentSubmittersGetDurableOutcomes) {
  TempDir dir;
  Recorder recorder;
  CountingCompletion completion(&recorder);
  uint64_t hash_before_stop = 0;
  {
    std::string error;
    auto service = EngineService::open(options_for(dir.path(), true), &error);
    ASSERT_TRUE(service) << error;
    service->add_listener(&recorder);
    service->start();
    testing::RandomCommandGenerator gen(7, {});
    for (const Command& c : gen.setup()) {
      bool durable = false;
      const auto events = service->execute(c, &durable);
      EXPECT_TRUE(durable);
      EXPECT_FALSE(events.empty());
    }
    // Four threads place orders for their own accounts concurrently.
    constexpr int kThreads = 4;
    constexpr int kPerThread = 2'000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          PlaceOrder p{};
          p.account = AccountId{static_cast<uint32_t>(t + 1)};
          p.instrument = InstrumentId{1};
          p.side = (i % 2) ? Side::kBuy : Side::kSell;
          p.type = OrderType::kLimit;
          p.tif = TimeInForce::kIoc;
          p.price = Price{0};  // invalid half the time: rejects are outcomes too
          p.qty = Qty{1};
          while (!service->submit(Command::place_order(p), &completion)) std::this_thread::yield();
        }
      });
    }
    for (auto& th : threads) th.join();
    // A command with no events still completes (cancel-all on nothing).
    bool durable = false;
    const auto none = service->execute(Command::cancel_all({AccountId{1}, InstrumentId{0}}), &durable);
    EXPECT_TRUE(durable);
    EXPECT_TRUE(none.empty());
    service->stop();
    EXPECT_EQ(completion.calls.load(), kThreads * kPerThread);
    EXPECT_FALSE(service->submit(Command::heartbeat(), nullptr));  // stopped
    hash_before_stop = service->engine().state_hash();
    EXPECT_EQ(service->engine().last_seq(), gen.setup().size() + kThreads * kPerThread + 1);
  }
  EXPECT_GT(recorder.count.load(), completion.events.load());  // setup events too
  std::string error;
  auto reopened = EngineService::open(options_for(dir.path(), true), &error);
  ASSERT_TRUE(reopened) << error;
  EXPECT_EQ(reopened->engine().state_hash(), hash_before_stop);
}

TEST(EngineService, StopAppliesEverythingQueued) {
  TempDir dir;
  std::string error;
  auto service = EngineService::open(options_for(dir.path(), false), &error);
  ASSERT_TRUE(service) << error;
  Recorder recorder;
  CountingCompletion completion(&recorder);
  service->add_listener(&recorder);
  service->start();
  int queued = 0;
  for (int i = 0; i < 5'000; ++i) {
    if (service->submit(Command::heartbeat(), &completion)) ++queued;
  }
  service->stop();
  EXPECT_EQ(completion.calls.load(), queued);
  EXPECT_EQ(service->engine().last_seq(), static_cast<Seq>(queued));
}

}  // namespace
}  // namespace bourse
