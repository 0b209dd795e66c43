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

}  // namespace
}  // namespace bourse::store
