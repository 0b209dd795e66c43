#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "store/store.h"

namespace bourse::store {
namespace {

TEST(SqliteStore, UsersAndKeysPersist) {
  char tmpl[] = "/tmp/bourse-store-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const std::string path = dir + "/store.sqlite";
  std::string error;
  {
    auto s = open_sqlite_store(path, &error);
    ASSERT_TRUE(s) << error;
    UserRecord a{0, "alice", "$argon2id$x", "trader", 1};
    ASSERT_EQ(s->create_user(&a), StoreError::kOk);
    EXPECT_EQ(a.id, 1u);
    UserRecord dup{0, "alice", "h", "trader", 2};
    EXPECT_EQ(s->create_user(&dup), StoreError::kExists);
    UserRecord b{0, "bob", "h", "admin", 3};
    ASSERT_EQ(s->create_user(&b), StoreError::kOk);
    EXPECT_EQ(b.id, 2u);
    UserRecord bad{0, "eve", "h", "root", 3};
    EXPECT_NE(s->create_user(&bad), StoreError::kOk);  // role is checked by the schema
    ApiKeyRecord k{"bk_1", a.id, std::string("\0sealed\xff", 8), 3, "bot", "127.0.0.1", 10, false};
    ASSERT_EQ(s->put_api_key(k), StoreError::kOk);
    EXPECT_EQ(s->put_api_key(k), StoreError::kExists);
    EXPECT_EQ(s->revoke_api_key(b.id, "bk_1"), StoreError::kNotFound);  // not bob's
  }
  auto s = open_sqlite_store(path, &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->user_by_name("alice")->id, 1u);
  EXPECT_EQ(s->user_by_id(2)->role, "admin");
  EXPECT_FALSE(s->user_by_name("carol"));
  auto keys = s->api_keys_of(1);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].sealed_secret, std::string("\0sealed\xff", 8));  // binary-safe
  EXPECT_EQ(keys[0].ip_allowlist, "127.0.0.1");
  EXPECT_EQ(s->revoke_api_key(1, "bk_1"), StoreError::kOk);
  EXPECT_EQ(s->revoke_api_key(1, "bk_1"), StoreError::kNotFound);
  EXPECT_TRUE(s->all_api_keys()[0].revoked);
  std::filesystem::remove_all(dir);
}

TEST(SqliteStore, IdempotencyRowsMergeByTagPruneAndPersist) {
  char tmpl[] = "/tmp/bourse-store-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const std::string path = dir + "/store.sqlite";
  std::string error;
  {
    auto s = open_sqlite_store(path, &error);
    ASSERT_TRUE(s) << error;
    HistoryBatch b;
    b.last_seq = 12;
    // Tags are full 64-bit values (the top bit set must survive SQLite's signed integers).
    b.idempotency.push_back(IdempotencyRow{0xF000'0000'0000'0001ull, 0xBEEF, 10, 1, 0, 0, 1'000});
    b.idempotency.push_back(IdempotencyRow{2, 7, 11, 1, 0, 3, 2'000});
    b.idempotency.push_back(IdempotencyRow{3, 8, 12, 4, 0, 0, 3'000});
    ASSERT_EQ(s->apply_history(b), StoreError::kOk);
    // The rest of command 10's events arrive in the next batch: the order id
    // is merged in. A newer command with tag 2 (the key ran again after a
    // 503) replaces its row; an older one for tag 3 changes nothing.
    HistoryBatch c;
    c.last_seq = 14;
    c.idempotency.push_back(IdempotencyRow{0xF000'0000'0000'0001ull, 0xBEEF, 10, 1, 77, 0, 1'000});
    c.idempotency.push_back(IdempotencyRow{2, 9, 14, 1, 99, 0, 2'500});
    c.idempotency.push_back(IdempotencyRow{3, 1, 5, 1, 0, 0, 3'000});
    ASSERT_EQ(s->apply_history(c), StoreError::kOk);
  }
  auto s = open_sqlite_store(path, &error);
  ASSERT_TRUE(s) << error;
  const auto rows = s->recent_idempotency(0, 10);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], (IdempotencyRow{3, 8, 12, 4, 0, 0, 3'000}));  // newest first
  EXPECT_EQ(rows[1], (IdempotencyRow{2, 9, 14, 1, 99, 0, 2'500}));
  EXPECT_EQ(rows[2], (IdempotencyRow{0xF000'0000'0000'0001ull, 0xBEEF, 10, 1, 77, 0, 1'000}));
  EXPECT_EQ(s->recent_idempotency(2'000, 10).size(), 2u);
  EXPECT_EQ(s->recent_idempotency(0, 1).size(), 1u);
  HistoryBatch prune;
  prune.last_seq = 15;
  prune.prune_idempotency_before_ms = 2'600;
  ASSERT_EQ(s->apply_history(prune), StoreError::kOk);
  ASSERT_EQ(s->recent_idempotency(0, 10).size(), 1u);
  EXPECT_EQ(s->recent_idempotency(0, 10)[0].tag, 3u);
  ASSERT_EQ(s->clear_history(), StoreError::kOk);
  EXPECT_TRUE(s->recent_idempotency(0, 10).empty());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bourse::store
