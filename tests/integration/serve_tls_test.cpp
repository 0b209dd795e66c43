// TLS end to end: `bourse serve --tls-cert --tls-key` with a self-signed
// certificate made here, HTTPS keep-alive and WSS through real TLS clients
// that verify it, the CLI over https:// and wss://, plain HTTP on the TLS
// port, handshake failures, and start-up errors.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <chrono>
#include <cstdio>

#include "integration/server_process.h"

namespace bourse::testing {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

// A self-signed P-256 certificate for 127.0.0.1 and localhost, written as
// PEM to dir/cert.pem and dir/key.pem. It is its own trust anchor.
void make_self_signed(const std::string& dir) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  ASSERT_NE(key, nullptr);
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86'400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("bourse test"), -1, -1,
                             0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  ASSERT_NE(san, nullptr);
  X509_add_ext(cert, san, -1);
  X509_EXTENSION_free(san);
  ASSERT_GT(X509_sign(cert, key, EVP_sha256()), 0);
  FILE* f = std::fopen((dir + "/cert.pem").c_str(), "w");
  PEM_write_X509(f, cert);
  std::fclose(f);
  f = std::fopen((dir + "/key.pem").c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(cert);
  EVP_PKEY_free(key);
}

// A TLS client context that trusts only `ca_file` (empty: trusts nothing).
ssl::context client_context(const std::string& ca_file) {
  ssl::context ctx(ssl::context::tls_client);
  ctx.set_verify_mode(ssl::verify_peer);
  if (!ca_file.empty()) ctx.load_verify_file(ca_file);
  return ctx;
}

// Connects and completes the handshake, verifying the name 127.0.0.1.
beast::error_code connect_tls(beast::ssl_stream<beast::tcp_stream>& stream, uint16_t port) {
  beast::error_code ec;
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
  beast::get_lowest_layer(stream).connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return ec;
  stream.set_verify_callback(ssl::host_name_verification("127.0.0.1"));
  stream.handshake(ssl::stream_base::client, ec);
  return ec;
}

http::response<http::string_body> https_get(beast::ssl_stream<beast::tcp_stream>& stream, const std::string& target,
                                            beast::error_code& ec) {
  http::request<http::string_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  http::write(stream, req, ec);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  if (!ec) http::read(stream, buffer, res, ec);
  return res;
}

class ServeTls : public ::testing::Test {
 protected:
  void SetUp() override {
    make_self_signed(dir_.path());
    ServerOptions o;
    o.data_dir = dir_.path() + "/data";
    o.extra_args = {"--tls-cert", cert(), "--tls-key", dir_.path() + "/key.pem"};
    server_ = std::make_unique<ServerProcess>(o);
    ASSERT_TRUE(server_->started()) << server_->output();
  }
  std::string cert() const { return dir_.path() + "/cert.pem"; }
  std::string url(const char* scheme) const { return std::string(scheme) + "://127.0.0.1:" + std::to_string(server_->port()); }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(ServeTls, HttpsKeepAliveVerifiedAgainstTheCertificate) {
  EXPECT_NE(server_->output().find("listening on https://127.0.0.1:"), std::string::npos) << server_->output();
  net::io_context ioc;
  ssl::context ctx = client_context(cert());
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  ASSERT_FALSE(connect_tls(stream, server_->port()));
  // TLS 1.2 at least; the negotiated version is what a modern client asks for.
  EXPECT_GE(SSL_version(stream.native_handle()), TLS1_2_VERSION);
  for (const char* target : {"/v1/time", "/v1/ticker/BTC-USD", "/healthz"}) {  // one connection, three requests
    beast::error_code ec;
    const auto res = https_get(stream, target, ec);
    ASSERT_FALSE(ec) << target << ": " << ec.message();
    EXPECT_EQ(res.result_int(), 200) << target << " " << res.body();
    EXPECT_TRUE(res.keep_alive());
  }
  // The OAuth issuer follows the scheme.
  beast::error_code ec;
  const auto meta = https_get(stream, "/.well-known/oauth-authorization-server", ec);
  ASSERT_FALSE(ec);
  EXPECT_NE(meta.body().find("\"issuer\":\"" + url("https") + "\""), std::string::npos) << meta.body();
}

TEST_F(ServeTls, PlainHttpOnTheTlsPortGetsTlsRequired) {
  const std::string reply = raw_exchange(server_->port(), "GET /v1/time HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(reply.find("HTTP/1.1 400"), std::string::npos) << reply;
  EXPECT_NE(reply.find("TLS_REQUIRED"), std::string::npos) << reply;
  EXPECT_NE(reply.find("Connection: close"), std::string::npos) << reply;
}

TEST_F(ServeTls, FailedHandshakesAndGarbageLeaveTheServerServing) {
  net::io_context ioc;
  {
    ssl::context untrusting = client_context("");  // no trust anchor: the client rejects the certificate
    beast::ssl_stream<beast::tcp_stream> stream(ioc, untrusting);
    EXPECT_TRUE(connect_tls(stream, server_->port()));
  }
  // A ClientHello-looking prefix followed by junk: the handshake fails server side.
  const std::string junk = std::string("\x16\x03\x01\x00\x30", 5) + std::string(48, 'z');
  raw_exchange(server_->port(), junk, 1000);
  // After both failures, a verifying client is still served on a fresh connection.
  ssl::context ctx = client_context(cert());
  beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
  ASSERT_FALSE(connect_tls(stream, server_->port()));
  beast::error_code ec;
  EXPECT_EQ(https_get(stream, "/v1/time", ec).result_int(), 200);
  EXPECT_FALSE(ec);
}

TEST_F(ServeTls, WssLoginSubscribeAndOrderEntry) {
  const ApiKey alice = demo_keys(server_->output())["alice"];
  net::io_context ioc;
  ssl::context ctx = client_context(cert());
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws(ioc, ctx);
  ASSERT_FALSE(connect_tls(ws.next_layer(), server_->port()));
  beast::get_lowest_layer(ws).expires_never();
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
  beast::error_code ec;
  ws.handshake("127.0.0.1", "/v1/ws", ec);
  ASSERT_FALSE(ec) << ec.message();
  auto receive = [&] {
    beast::flat_buffer buffer;
    ws.read(buffer, ec);
    return ec ? std::string() : beast::buffers_to_string(buffer.data());
  };
  ws.write(net::buffer(ws_login_message(alice)));
  const std::string login = receive();
  EXPECT_NE(login.find("\"username\":\"alice\""), std::string::npos) << login;
  ws.write(net::buffer(std::string(R"({"op":"subscribe","id":"s","channels":["orders"]})")));
  EXPECT_NE(receive().find("\"s\""), std::string::npos);
  ws.write(net::buffer(std::string(
      R"({"op":"place","id":"p1","args":{"symbol":"BTC-USD","side":"BUY","type":"LIMIT","qty":"0.01","price":"60000.00"}})")));
  std::string all;
  for (int i = 0; i < 4 && all.find("\"p1\"") == std::string::npos; ++i) all += receive();
  EXPECT_NE(all.find("\"p1\""), std::string::npos) << all;
  EXPECT_NE(all.find("\"status\":201"), std::string::npos) << all;
  ws.close(websocket::close_code::normal, ec);
}

TEST_F(ServeTls, CliOverHttpsAndWssVerifiesTheServer) {
  const ApiKey bob = demo_keys(server_->output())["bob"];
  std::map<std::string, std::string> env = {{"BOURSE_URL", url("https")},
                                            {"BOURSE_CA_FILE", cert()},
                                            {"BOURSE_API_KEY", bob.key_id},
                                            {"BOURSE_API_SECRET", bob.secret}};
  std::string out;
  ASSERT_EQ(run_bourse({"order", "place", "BTC-USD", "SELL", "0.01", "--price", "70000.00"}, &out, env), 0) << out;
  EXPECT_NE(out.find("\"status\":\"NEW\""), std::string::npos) << out;
  EXPECT_EQ(run_bourse({"balances"}, &out, env), 0) << out;
  env["BOURSE_URL"] = url("wss");
  EXPECT_EQ(run_bourse({"tail", "orders", "--count", "2"}, &out, env), 0) << out;
  EXPECT_NE(out.find("\"login\""), std::string::npos) << out;
  // Without the trust anchor the CLI refuses the self-signed certificate.
  env.erase("BOURSE_CA_FILE");
  env["BOURSE_URL"] = url("https");
  EXPECT_EQ(run_bourse({"balances"}, &out, env), 2) << out;
  EXPECT_NE(out.find("certificate verify failed"), std::string::npos) << out;
}

TEST_F(ServeTls, GracefulShutdownWithOpenTlsConnections) {
  net::io_context ioc;
  ssl::context ctx = client_context(cert());
  beast::ssl_stream<beast::tcp_stream> idle(ioc, ctx);
  ASSERT_FALSE(connect_tls(idle, server_->port()));
  beast::error_code ec;
  ASSERT_EQ(https_get(idle, "/v1/time", ec).result_int(), 200);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(server_->stop(), 0) << server_->output();
  // The idle keep-alive connection was closed (close_notify), not waited for.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST(ServeTlsConfig, CertificateWithoutKeyOrUnreadableFilesStopTheStart) {
  TempDir dir;
  std::string out;
  EXPECT_EQ(run_bourse({"serve", "--listen", "127.0.0.1:0", "--data-dir", dir.path() + "/d", "--tls-cert",
                        dir.path() + "/cert.pem"},
                       &out),
            2);
  EXPECT_NE(out.find("tls: set both cert_file and key_file"), std::string::npos) << out;
  EXPECT_EQ(run_bourse({"serve", "--listen", "127.0.0.1:0", "--data-dir", dir.path() + "/d", "--tls-cert",
                        dir.path() + "/missing.pem", "--tls-key", dir.path() + "/missing.key"},
                       &out),
            1);
  EXPECT_NE(out.find("TLS certificate chain"), std::string::npos) << out;
}

}  // namespace
}  // namespace bourse::testing
