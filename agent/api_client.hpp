// The agent's HTTPS client for the Aiven API: one JSON request at a time per
// call, deadlines on every phase, a small keep-alive pool, verified TLS.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/value.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "platform/secret.hpp"

namespace avn::agent::api {

struct config {
    /// Scheme, host, optional port and optional path prefix, e.g.
    /// "https://api.aiven.io" or "http://127.0.0.1:8080". No user info, query or
    /// fragment. http:// is accepted only for a loopback host.
    std::string base_url = "https://api.aiven.io";
    /// PEM file of CA certificates trusted in addition to the system store
    /// (or instead of it when `use_system_trust` is false). Empty: none.
    std::string extra_ca_file;
    /// Trust the system's certificates: the hashed folder of OpenSSL's
    /// default paths (SSL_CERT_DIR, else /etc/ssl/certs on Debian), from
    /// which only the certificates a chain needs are loaded, plus the bundle
    /// SSL_CERT_FILE names when it is set.
    bool use_system_trust = true;
    /// Per-phase deadlines; each must be positive. `read_timeout` covers the
    /// whole response, headers and body.
    std::chrono::milliseconds resolve_timeout{10000};
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds handshake_timeout{10000};
    std::chrono::milliseconds write_timeout{10000};
    std::chrono::milliseconds read_timeout{30000};
    /// A response body larger than this is refused (bad_response).
    std::size_t max_body_bytes = 4 * 1024 * 1024;
    /// Idle keep-alive connections kept for reuse; 0 closes every connection
    /// after its response.
    std::size_t max_idle_connections = 4;
};

/// The defaults, with `base_url` from AIVEN_WEB_URL and `extra_ca_file` from
/// AIVEN_CA_CERT when those are set and not empty.
config config_from_env();

enum class error_kind : std::uint8_t {
    http_status,   ///< the server answered a status outside 2xx
    network,       ///< resolve failure, refused, reset, closed before a full response
    timeout,       ///< a phase deadline expired
    tls,           ///< certificate verification or another TLS failure
    bad_response,  ///< malformed HTTP, body over the limit, or a 2xx body that is not JSON
    bad_config,    ///< unusable config (URL, CA file, timeouts) or an unsendable request
};

struct error {
    error_kind kind = error_kind::network;
    /// Ours: one line for a person naming the host and the phase. Never holds a
    /// token, a request body or a request path (paths can carry tokens).
    std::string message;
    /// The HTTP status, for http_status; 0 otherwise.
    unsigned status = 0;
    /// The API's own words, for http_status: the body's top-level "message",
    /// else errors[0].message, else the raw body cut to 1000 bytes. Empty when
    /// the body is empty. Kept apart from `message`: the peer wrote it.
    std::string api_message;
    /// The error body when it was JSON, else null.
    boost::json::value body;
};

/// The API no longer takes the token the request was made with (401, 403).
inline bool token_refused(const error& e) {
    return e.kind == error_kind::http_status && (e.status == 401 || e.status == 403);
}

struct response {
    unsigned status = 0;  ///< always 2xx
    /// The parsed JSON body; an empty object for 204 or an empty body.
    boost::json::value body;
    /// The Date header, when present and a valid IMF-fixdate.
    std::optional<std::chrono::system_clock::time_point> server_date;
};

/// A response or an error. `error()` returns a copy.
using result = boost::system::result<response, error>;

/// Percent-encodes one path segment: only A-Z a-z 0-9 _ . - ~ stay literal;
/// every other byte becomes %XX (upper-case hex).
std::string encode_path_segment(std::string_view s);

/// Parses an RFC 7231 IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"). Anything
/// else (including the obsolete RFC 850 and asctime forms) gives nullopt.
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view s);

/// A client for one API base URL. Not thread-safe: construct it, call it and
/// destroy it on its executor's thread, from coroutines running on that
/// executor. Requests may run concurrently; each uses its own connection.
/// Destroying the client while requests run is allowed: they keep the shared
/// state alive and finish on their own.
class client {
  public:
    /// Parses the URL and reads `extra_ca_file`; the TLS context is built at
    /// the first https request. A problem does not throw: it is kept and
    /// returned by `validate()` and by every request. https:// is always
    /// accepted; http:// only for a loopback host (127.0.0.0/8, ::1,
    /// localhost), because the token would otherwise cross the network in
    /// clear. A missing or unreadable `extra_ca_file`, or one without a PEM
    /// certificate, is a bad_config error naming the file.
    client(boost::asio::any_io_executor ex, config cfg);
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    /// The configuration problem, if any (always bad_config). No I/O.
    [[nodiscard]] std::optional<error> validate() const;

    /// One request to base URL + `path`. `path` starts with "/" (normally
    /// "/v1/...") and is sent as given: callers encode segments with
    /// `encode_path_segment`. `body` null: no body; else it is serialized and
    /// sent with content-type application/json. `token` null: no authorization
    /// header; else "authorization: aivenv1 <token>". Both pointers must stay
    /// valid until the request completes; the copies made for sending are
    /// wiped when it ends.
    ///
    /// Deadlines apply per phase (resolve, connect, TLS handshake, write,
    /// read). GET is retried on network errors: 3 attempts, 0.2 s apart.
    /// Any method is retried once on a fresh connection when a reused idle
    /// connection fails before the first response byte. Nothing else is
    /// retried.
    boost::asio::awaitable<result> request(boost::beast::http::verb method, std::string path,
                                           const boost::json::value* body,
                                           const platform::secret* token);

    /// Connections established so far (TCP connect succeeded). For tests:
    /// keep-alive reuse shows as a count that does not grow.
    [[nodiscard]] std::uint64_t connections_opened() const;
    /// Connections idle in the pool now.
    [[nodiscard]] std::size_t idle_connections() const;
    /// For tests: whether the TLS context has been built, and how many
    /// certificates its trust store holds in memory now.
    [[nodiscard]] bool tls_context_built() const;
    [[nodiscard]] std::size_t trusted_certificates_loaded() const;

  private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace avn::agent::api
