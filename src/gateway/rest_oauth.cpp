// The OAuth 2.0 endpoints (docs/authentication.md, "OAuth 2.0"): token,
// revocation, the authorization page, JWKS and server metadata, and the
// admin registry of applications. The protocol lives in auth::OAuthService;
// this file is HTTP: forms in, RFC 6749 JSON or HTML out. Every endpoint
// that touches the store or argon2 runs on the worker pool.
#include "auth/crypto.h"
#include "auth/oauth.h"
#include "gateway/json_body.h"
#include "gateway/json_writer.h"
#include "gateway/rest_api.h"

namespace bourse::gateway {
namespace {

constexpr std::string_view kFormType = "application/x-www-form-urlencoded";

bool is_form(const std::string* content_type) {
  if (!content_type) return false;
  std::string_view ct = *content_type;
  const std::size_t semi = ct.find(';');
  ct = ct.substr(0, semi);
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  if (ct.size() != kFormType.size()) return false;
  for (std::size_t i = 0; i < ct.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(ct[i])) != kFormType[i]) return false;
  }
  return true;
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// Token responses must not be cached (RFC 6749 §5.1).
HttpResponse oauth_response(const auth::OAuthReply& reply) {
  HttpResponse r;
  r.status = reply.status;
  r.body = reply.body;
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("Pragma", "no-cache");
  if (reply.basic_challenge) r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"bourse\"");
  return r;
}

HttpResponse form_error(std::string_view description) {
  return oauth_response(auth::OAuthReply{400, R"({"error":"invalid_request","error_description":")" +
                                                  std::string(description) + "\"}"});
}

// The sign-in and consent page. Every value is escaped; the page cannot be
// framed (clickjacking) and is never cached.
HttpResponse authorize_page(const auth::AuthorizeRequest& r, const auth::OAuthParams& query, std::string_view message,
                            int status) {
  std::string hidden;
  for (const char* name : {"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
                           "code_challenge_method"}) {
    auto it = query.find(name);
    if (it == query.end()) continue;
    hidden += "<input type=\"hidden\" name=\"" + std::string(name) + "\" value=\"" + html_escape(it->second) + "\">\n";
  }
  std::string scopes;
  for (const std::string_view s : {"read", "trade", "transfer", "admin"}) {
    uint32_t bit = 0;
    auth::parse_scope_string(s, false, &bit);
    if (r.scopes & bit) scopes += "<li>" + std::string(s) + "</li>";
  }
  HttpResponse out;
  out.status = status;
  out.content_type = "text/html; charset=utf-8";
  out.body = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in to Bourse</title>"
             "<meta name=\"viewport\" content=\"width=device-width\">"
             "<style>body{font-family:sans-serif;max-width:26em;margin:3em auto}label,input,button{display:block;"
             "margin:.4em 0}input{width:100%}.error{color:#b00}</style></head><body>"
             "<h1>Sign in to Bourse</h1><p><b>" + html_escape(r.client.name) +
             "</b> asks for access to your account:</p><ul>" + scopes + "</ul>" +
             (message.empty() ? std::string() : "<p class=\"error\">" + html_escape(message) + "</p>") +
             "<form method=\"post\" action=\"/v1/oauth/authorize\">\n" + hidden +
             "<label>Username <input name=\"username\" autocomplete=\"username\" required></label>"
             "<label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required>"
             "</label><button name=\"decision\" value=\"allow\">Allow</button>"
             "<button name=\"decision\" value=\"deny\" formnovalidate>Deny</button></form></body></html>";
  out.headers.emplace_back("Cache-Control", "no-store");
  out.headers.emplace_back("X-Frame-Options", "DENY");
  out.headers.emplace_back("Content-Security-Policy",
                           "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
  out.headers.emplace_back("Referrer-Policy", "no-referrer");
  return out;
}

HttpResponse error_page(int status, std::string_view description) {
  HttpResponse out;
  out.status = status;
  out.content_type = "text/html; charset=utf-8";
  out.body = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Authorization error</title></head>"
             "<body><h1>Authorization error</h1><p>" + html_escape(description) + "</p></body></html>";
  out.headers.emplace_back("Cache-Control", "no-store");
  out.headers.emplace_back("X-Frame-Options", "DENY");
  return out;
}

// 303 to the client's redirect URI with `params` appended to its query.
HttpResponse redirect_to(const std::string& uri, const std::vector<std::pair<std::string, std::string>>& params) {
  std::string location = uri;
  char sep = uri.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [k, v] : params) {
    if (v.empty() && k == "state") continue;
    location += sep;
    location += k + "=" + percent_encode(v);
    sep = '&';
  }
  HttpResponse out;
  out.status = 303;
  out.content_type.clear();
  out.headers.emplace_back("Location", location);
  out.headers.emplace_back("Cache-Control", "no-store");
  return out;
}

HttpResponse redirect_error(const auth::AuthorizeRequest& r, const std::string& state, std::string error,
                            std::string description) {
  return redirect_to(r.redirect_uri, {{"error", std::move(error)}, {"error_description", std::move(description)},
                                      {"state", state}});
}

bool valid_redirect_uri(std::string_view uri) {
  if (uri.empty() || uri.size() > 512 || uri.find('#') != std::string_view::npos) return false;
  for (char c : uri) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  // https anywhere; http only to loopback (native apps, RFC 8252 §7.3); or a
  // private-use scheme for mobile apps (RFC 8252 §7.1: reverse domain name).
  if (uri.starts_with("https://")) return true;
  if (uri.starts_with("http://127.0.0.1") || uri.starts_with("http://[::1]") || uri.starts_with("http://localhost")) {
    return true;
  }
  const std::size_t colon = uri.find(':');
  return colon != std::string_view::npos && uri.substr(0, colon).find('.') != std::string_view::npos &&
         uri.substr(0, colon).find('/') == std::string_view::npos;
}

}  // namespace

#define BOURSE_BIND(fn) [this](const std::shared_ptr<Call>& c) { fn(c); }

void RestApi::add_oauth_routes() {
  if (!services_.oauth) return;
  route("POST", "/v1/oauth/token", BOURSE_BIND(post_oauth_token), 5);
  route("POST", "/v1/oauth/revoke", BOURSE_BIND(post_oauth_revoke), 5);
  route("GET", "/v1/oauth/authorize", BOURSE_BIND(get_oauth_authorize), 2);
  route("POST", "/v1/oauth/authorize", BOURSE_BIND(post_oauth_authorize), 20);
  route("GET", "/.well-known/jwks.json", [this](const std::shared_ptr<Call>& c) {
    c->json(200, services_.oauth->jwks(), true);
  });
  route("GET", "/.well-known/oauth-authorization-server", [this](const std::shared_ptr<Call>& c) {
    c->json(200, services_.oauth->metadata(), true);
  });
  private_route("POST", "/v1/admin/oauth/clients", auth::kScopeAdmin, BOURSE_BIND(post_oauth_client), 20);
  private_route("GET", "/v1/admin/oauth/clients", auth::kScopeAdmin, BOURSE_BIND(get_oauth_clients));
}

bool RestApi::read_form(const std::shared_ptr<Call>& call, auth::OAuthParams* form) {
  if (!is_form(call->request.header("content-type"))) {
    call->reply(oauth_response(auth::OAuthReply{
        415, R"({"error":"invalid_request","error_description":"Content-Type must be application/x-www-form-urlencoded"})"}));
    return false;
  }
  std::string bad;
  switch (parse_form(call->request.body, form, &bad)) {
    case FormError::kOk: return true;
    case FormError::kBadEscape: call->reply(form_error("bad percent-encoding in the form")); return false;
    case FormError::kDuplicate: call->reply(form_error("a parameter appears more than once")); return false;
  }
  return false;
}

void RestApi::post_oauth_token(const std::shared_ptr<Call>& call) {
  auth::OAuthParams form;
  if (!read_form(call, &form)) return;
  offload(call, [this, call, form = std::move(form)] {
    const std::string* authorization = call->request.header("authorization");
    call->reply(oauth_response(services_.oauth->token(form, authorization, call->request.remote_ip)));
  });
}

void RestApi::post_oauth_revoke(const std::shared_ptr<Call>& call) {
  auth::OAuthParams form;
  if (!read_form(call, &form)) return;
  offload(call, [this, call, form = std::move(form)] {
    call->reply(oauth_response(services_.oauth->revoke(form, call->request.header("authorization"))));
  });
}

void RestApi::get_oauth_authorize(const std::shared_ptr<Call>& call) {
  auth::OAuthParams query;
  std::string bad;
  if (parse_form(call->request.query, &query, &bad) != FormError::kOk) {
    return call->reply(error_page(400, "malformed or repeated query parameters"));
  }
  offload(call, [this, call, query = std::move(query)] {
    auth::AuthorizeRequest r;
    if (auto e = services_.oauth->check_authorize(query, &r)) {
      if (!e->redirect) return call->reply(error_page(400, e->description));
      return call->reply(redirect_error(r, query.contains("state") ? query.at("state") : "", e->error, e->description));
    }
    call->reply(authorize_page(r, query, "", 200));
  });
}

void RestApi::post_oauth_authorize(const std::shared_ptr<Call>& call) {
  auth::OAuthParams form;
  if (!is_form(call->request.header("content-type"))) return call->reply(error_page(415, "send the sign-in form"));
  std::string bad;
  if (parse_form(call->request.body, &form, &bad) != FormError::kOk) {
    return call->reply(error_page(400, "malformed or repeated form fields"));
  }
  offload(call, [this, call, form = std::move(form)] {
    auth::AuthorizeRequest r;
    const std::string state = form.contains("state") ? form.at("state") : "";
    if (auto e = services_.oauth->check_authorize(form, &r)) {
      if (!e->redirect) return call->reply(error_page(400, e->description));
      return call->reply(redirect_error(r, state, e->error, e->description));
    }
    auto field = [&](const char* name) { return form.contains(name) ? form.at(name) : std::string(); };
    if (field("decision") != "allow") return call->reply(redirect_error(r, state, "access_denied", "the user declined"));
    const auto check = services_.auth->check_password(field("username"), field("password"));
    if (check.locked_ms > 0) {
      return call->reply(authorize_page(r, form,
                                        "Too many wrong passwords. Try again in " +
                                            std::to_string((check.locked_ms + 999) / 1000) + " seconds.",
                                        429));
    }
    const auto& user = check.user;
    if (!user) return call->reply(authorize_page(r, form, "Wrong username or password.", 401));
    uint32_t scopes = r.scopes;
    if (user->role != "admin") scopes &= ~auth::kScopeAdmin;  // a token never exceeds its user
    if (scopes == 0) return call->reply(redirect_error(r, state, "invalid_scope", "no requested scope can be granted"));
    r.scopes = scopes;
    call->reply(redirect_to(r.redirect_uri, {{"code", services_.oauth->issue_code(r, user->id)}, {"state", state}}));
  });
}

void RestApi::post_oauth_client(const std::shared_ptr<Call>& call) {
  JsonBody body(call->request.header("content-type"), call->request.body,
                {"name", "redirect_uris", "scopes", "confidential"});
  std::string name;
  std::vector<std::string> uris, scope_names = {"read"};
  bool confidential = false;
  body.string("name", &name, true);
  body.string_list("redirect_uris", &uris);
  body.string_list("scopes", &scope_names);
  body.boolean("confidential", &confidential);
  uint32_t scopes = 0;
  if (body.ok() && (name.empty() || name.size() > 64)) body.fail(422, "INVALID_FIELD", "name: 1..64 characters");
  if (body.ok() && (uris.empty() || uris.size() > 10)) body.fail(422, "INVALID_FIELD", "redirect_uris: 1..10 URIs");
  for (const std::string& u : uris) {
    if (body.ok() && !valid_redirect_uri(u)) {
      body.fail(422, "INVALID_REDIRECT_URI",
                "redirect URIs: https://..., http:// to a loopback address, or a reverse-domain private scheme; "
                "no fragment: " + u);
    }
  }
  if (body.ok() && (!auth::parse_scope_list(scope_names, &scopes) || scopes == 0)) {
    body.fail(422, "INVALID_SCOPE", "scopes: a non-empty list of read, trade, transfer, admin");
  }
  if (!body.ok()) return call->fail(body.problem());
  offload(call, [this, call, name, uris, scopes, confidential] {
    auto c = services_.oauth->register_client(name, uris, scopes, confidential);
    if (!c) return call->fail(503, "UNAVAILABLE", "the store cannot save clients right now");
    std::string out;
    JsonWriter w(&out);
    w.begin_object().field("client_id", c->record.client_id).field("name", c->record.name);
    if (!c->secret.empty()) w.field("client_secret", c->secret);
    w.key("redirect_uris").begin_array();
    for (const std::string& u : uris) w.value(u);
    w.end_array().field("scopes", auth::scope_string(c->record.scopes)).field("confidential", confidential)
        .field("created", c->record.created_ms).end_object();
    call->json(201, std::move(out));
  });
}

void RestApi::get_oauth_clients(const std::shared_ptr<Call>& call) {
  offload(call, [this, call] {
    std::string out;
    JsonWriter w(&out);
    w.begin_array();
    for (const store::OAuthClientRecord& c : services_.store->oauth_clients()) {
      w.begin_object().field("client_id", c.client_id).field("name", c.name).key("redirect_uris").begin_array();
      std::string_view rest = c.redirect_uris;
      while (!rest.empty()) {
        const std::size_t space = rest.find(' ');
        w.value(rest.substr(0, space));
        rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
      }
      w.end_array().field("scopes", auth::scope_string(c.scopes)).field("confidential", !c.secret_hash.empty())
          .field("created", c.created_ms).end_object();
    }
    w.end_array();
    call->json(200, std::move(out));
  });
}

}  // namespace bourse::gateway
