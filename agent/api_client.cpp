#include "agent/api_client.hpp"

#include <dirent.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <utility>
#include <vector>

#include "avn/version.hpp"
#include "protocol/codec.hpp"

namespace avn::agent::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t max_api_message = 1000;
constexpr int get_attempts = 3;
constexpr std::chrono::milliseconds retry_pause{200};

using http_request = http::request<http::string_body>;
using http_response = http::response<http::string_body>;

enum class phase : std::uint8_t { resolve, connect, handshake, write, read };

// Completes "timed out ..." and "network error ..." so every message names the phase.
std::string_view doing(phase p) {
    switch (p) {
        case phase::resolve:
            return "resolving";
        case phase::connect:
            return "connecting to";
        case phase::handshake:
            return "in the TLS handshake with";
        case phase::write:
            return "sending the request to";
        case phase::read:
            return "reading the response from";
    }
    return "talking to";
}

std::string format_duration(std::chrono::milliseconds d) {
    const auto ms = d.count();
    if (ms % 1000 == 0) {
        return std::to_string(ms / 1000) + " s";
    }
    if (ms < 1000) {
        return std::to_string(ms) + " ms";
    }
    std::array<char, 32> buf{};
    std::snprintf(buf.data(), buf.size(), "%.1f s", static_cast<double>(ms) / 1000.0);
    return buf.data();
}

bool is_printable_ascii(std::string_view s) {
    for (const char c : s) {
        if (c <= ' ' || c > '~') {
            return false;
        }
    }
    return true;
}

char to_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) {
        return false;
    }
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (to_lower(s[i]) != prefix[i]) {
            return false;
        }
    }
    return true;
}

// Cuts at a UTF-8 character boundary so a truncated API message stays valid text.
std::string truncate_utf8(std::string_view s, std::size_t limit) {
    if (s.size() <= limit) {
        return std::string(s);
    }
    std::size_t n = limit;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0U) == 0x80U) {
        --n;
    }
    return std::string(s.substr(0, n));
}

std::string_view view(const boost::json::string& s) {
    return {s.data(), s.size()};
}

std::string_view trim(std::string_view s) {
    const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && ws(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && ws(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

error make_error(error_kind kind, std::string message) {
    error e;
    e.kind = kind;
    e.message = std::move(message);
    return e;
}

// Whether `dir` holds at least one certificate link named by subject hash ("1a2b3c4d.0"),
// the names OpenSSL's folder lookup opens.
bool has_hash_links(const char* dir) {
    DIR* d = ::opendir(dir);
    if (d == nullptr) {
        return false;
    }
    bool found = false;
    while (const dirent* e = ::readdir(d)) {
        const std::string_view name = e->d_name;
        const auto is_hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
        if (name.size() >= 10 && name[8] == '.' &&
            std::all_of(name.begin(), name.begin() + 8, is_hex) &&
            name.find_first_not_of("0123456789", 9) == std::string_view::npos) {
            found = true;
            break;
        }
    }
    ::closedir(d);
    return found;
}

// Where requests go, from the base URL.
struct target {
    bool tls = true;
    std::string host;                     // lower case; an IPv6 literal without brackets
    std::string port;                     // always set: "443", "80" or the URL's
    std::string authority;                // the Host header and the name in messages
    std::string prefix;                   // path prefix without a trailing '/'
    std::optional<asio::ip::address> ip;  // when the host is an IP literal
};

bool is_loopback(const target& t) {
    if (t.ip) {
        return t.ip->is_loopback();
    }
    return t.host == "localhost";
}

// Returns the reason the URL is unusable, or nullopt. The URL itself is echoed only when
// it cannot hold credentials (no '@').
std::optional<std::string> parse_base_url(std::string_view url, target& out) {
    const std::string shown =
        url.find('@') == std::string_view::npos ? "'" + std::string(url) + "'" : "the base URL";
    std::string_view rest;
    if (iequals_prefix(url, "https://")) {
        out.tls = true;
        rest = url.substr(8);
    } else if (iequals_prefix(url, "http://")) {
        out.tls = false;
        rest = url.substr(7);
    } else {
        return "the API URL " + shown + " does not start with https://";
    }
    if (!is_printable_ascii(rest)) {
        return "the API URL " + shown + " contains spaces or characters outside printable ASCII";
    }
    if (rest.find_first_of("?#") != std::string_view::npos) {
        return "the API URL " + shown + " has a query or a fragment; give only scheme, host, port";
    }
    const std::size_t slash = rest.find('/');
    const std::string_view auth = rest.substr(0, slash);
    std::string_view path =
        slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    if (auth.find('@') != std::string_view::npos) {
        return std::string(
            "the API URL contains user information (user@host), which is not "
            "supported; remove it");
    }
    std::string_view host;
    std::string_view port;
    if (!auth.empty() && auth.front() == '[') {
        const std::size_t close = auth.find(']');
        if (close == std::string_view::npos) {
            return "the API URL " + shown + " has an unterminated IPv6 address";
        }
        host = auth.substr(1, close - 1);
        const std::string_view after = auth.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                return "the API URL " + shown + " has junk after the IPv6 address";
            }
            port = after.substr(1);
            if (port.empty()) {
                return "the API URL " + shown + " has an empty port";
            }
        }
    } else {
        const std::size_t colon = auth.find(':');
        host = auth.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = auth.substr(colon + 1);
            if (port.empty()) {
                return "the API URL " + shown + " has an empty port";
            }
        }
    }
    if (host.empty()) {
        return "the API URL " + shown + " has no host";
    }
    unsigned long port_number = out.tls ? 443 : 80;
    if (!port.empty()) {
        if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) {
            return "the API URL " + shown + " has an invalid port";
        }
        port_number = std::strtoul(std::string(port).c_str(), nullptr, 10);
        if (port_number == 0 || port_number > 65535) {
            return "the API URL " + shown + " has an invalid port";
        }
    }
    out.host.clear();
    for (const char c : host) {
        out.host.push_back(to_lower(c));
    }
    error_code ec;
    const auto addr = asio::ip::make_address(out.host, ec);
    if (!ec) {
        out.ip = addr;
    } else if (out.host.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-._") !=
               std::string::npos) {
        return "the API URL " + shown + " has an invalid host name";
    }
    out.port = std::to_string(port_number);
    const bool default_port = port_number == (out.tls ? 443U : 80U);
    out.authority = (out.ip && out.ip->is_v6()) ? "[" + out.host + "]" : out.host;
    if (!default_port) {
        out.authority += ":" + out.port;
    }
    while (!path.empty() && path.back() == '/') {
        path.remove_suffix(1);
    }
    out.prefix = std::string(path);
    return std::nullopt;
}

// One keep-alive connection: plain TCP or TLS over TCP, and the read buffer that must
// survive between responses on the same connection.
struct connection {
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
    beast::flat_buffer buffer;

    beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

// The server may have closed an idle connection, or sent something unasked (an alert, a
// stray byte): either way it is not safe to send the next request on it.
bool looks_reusable(connection& c) {
    if (c.buffer.size() != 0) {
        return false;
    }
    auto& sock = c.tcp().socket();
    if (!sock.is_open()) {
        return false;
    }
    if (c.tls && SSL_pending(c.tls->native_handle()) > 0) {
        return false;
    }
    pollfd p{};
    p.fd = sock.native_handle();
    p.events = POLLIN | POLLRDHUP;
    return ::poll(&p, 1, 0) == 0;
}

bool is_connection_closed(const error_code& ec) {
    return ec == http::error::end_of_stream || ec == http::error::partial_message ||
           ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::connection_aborted || ec == asio::error::broken_pipe ||
           ec == ssl::error::stream_truncated;
}

struct exchange_outcome {
    result res;
    bool retry_on_fresh = false;  // a reused connection died before the response began
    bool reusable = false;        // the connection may go back to the pool
};

// Overwrites the copies of secrets a request holds (authorization value, body) in the
// request's own storage: beast keeps each field in one allocation that the serializer
// reads directly, so this reaches the only copy we made.
class request_wiper {
  public:
    explicit request_wiper(http_request& r) : req_(r) {}
    request_wiper(const request_wiper&) = delete;
    request_wiper& operator=(const request_wiper&) = delete;
    ~request_wiper() {
        const auto it = req_.find(http::field::authorization);
        if (it != req_.end()) {
            const auto v = it->value();
            platform::wipe(const_cast<char*>(v.data()), v.size());
        }
        platform::wipe(req_.body());
        // DELETE /v1/access_token/<token> carries a token in the target.
        const auto target = req_.target();
        platform::wipe(const_cast<char*>(target.data()), target.size());
    }

  private:
    http_request& req_;
};

}  // namespace

config config_from_env() {
    config cfg;
    if (const char* url = std::getenv("AIVEN_WEB_URL"); url != nullptr && *url != '\0') {
        cfg.base_url = url;
    }
    if (const char* ca = std::getenv("AIVEN_CA_CERT"); ca != nullptr && *ca != '\0') {
        cfg.extra_ca_file = ca;
    }
    return cfg;
}

std::string encode_path_segment(std::string_view s) {
    static constexpr std::string_view hex = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size() * 3);
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' ||
                                c == '~';
        if (unreserved) {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4U]);
            out.push_back(hex[c & 0x0FU]);
        }
    }
    return out;
}

std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view s) {
    // IMF-fixdate is fixed width: "Sun, 06 Nov 1994 08:49:37 GMT".
    if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' ' || s.substr(26) != "GMT") {
        return std::nullopt;
    }
    static constexpr std::array<std::string_view, 7> days = {"Mon", "Tue", "Wed", "Thu",
                                                             "Fri", "Sat", "Sun"};
    static constexpr std::array<std::string_view, 12> months = {
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    bool day_name_ok = false;
    for (const auto d : days) {
        day_name_ok = day_name_ok || s.substr(0, 3) == d;
    }
    unsigned month = 0;
    for (unsigned i = 0; i < months.size(); ++i) {
        if (s.substr(8, 3) == months[i]) {
            month = i + 1;
        }
    }
    const auto number = [s](std::size_t pos, std::size_t len) -> int {
        int v = 0;
        for (std::size_t i = pos; i < pos + len; ++i) {
            if (s[i] < '0' || s[i] > '9') {
                return -1;
            }
            v = v * 10 + (s[i] - '0');
        }
        return v;
    };
    const int day = number(5, 2);
    const int year = number(12, 4);
    const int hour = number(17, 2);
    const int minute = number(20, 2);
    const int second = number(23, 2);
    if (!day_name_ok || month == 0 || day < 1 || year < 0 || hour < 0 || hour > 23 || minute < 0 ||
        minute > 59 || second < 0 || second > 60) {
        return std::nullopt;
    }
    const std::chrono::year_month_day ymd{std::chrono::year{year}, std::chrono::month{month},
                                          std::chrono::day{static_cast<unsigned>(day)}};
    if (!ymd.ok()) {
        return std::nullopt;
    }
    return std::chrono::sys_days{ymd} + std::chrono::hours{hour} + std::chrono::minutes{minute} +
           std::chrono::seconds{second};
}

struct x509_infos_free {
    void operator()(STACK_OF(X509_INFO) * s) const noexcept {
        sk_X509_INFO_pop_free(s, X509_INFO_free);
    }
};
using x509_infos = std::unique_ptr<STACK_OF(X509_INFO), x509_infos_free>;

struct client::impl {
    impl(asio::any_io_executor e, config c)
        : ex(std::move(e)),
          cfg(std::move(c)),
          user_agent(std::string("avn-agent/") + avn::version_string) {
        config_error = setup();
    }

    asio::any_io_executor ex;
    config cfg;
    target tgt;
    // Built at the first https request, not at start: OpenSSL's context and
    // the trust store cost memory that an agent never asked to talk to the
    // API (or not yet) should not pay.
    std::optional<ssl::context> tls_ctx;
    // The certificates (and CRLs) of `extra_ca_file`, read (and so checked) at start.
    x509_infos extra_cas;
    std::string user_agent;
    std::optional<error> config_error;
    std::deque<std::unique_ptr<connection>> idle;  // most recently used at the back
    std::uint64_t opened = 0;

    std::optional<error> setup();
    std::optional<error> read_extra_cas();
    boost::system::result<ssl::context*, error> tls_context();

    static asio::awaitable<result> start(std::shared_ptr<impl> self, http::verb method,
                                         std::string path, const json::value* body,
                                         const platform::secret* token) {
        co_return co_await self->run(method, std::move(path), body, token);
    }
    asio::awaitable<result> run(http::verb method, std::string path, const json::value* body,
                                const platform::secret* token);
    asio::awaitable<result> exchange(http_request& req);
    asio::awaitable<boost::system::result<std::unique_ptr<connection>, error>> open();
    asio::awaitable<boost::system::result<std::vector<tcp::endpoint>, error>> resolve();
    template <class Stream>
    asio::awaitable<exchange_outcome> send_receive(Stream& stream, connection& conn,
                                                   http_request& req, bool reused);

    std::unique_ptr<connection> take_idle();
    void give_back(std::unique_ptr<connection> c);
    error io_failure(phase p, const error_code& ec) const;
    std::chrono::milliseconds limit(phase p) const;
    result interpret(http_response& res) const;
};

std::optional<error> client::impl::setup() {
    if (auto why = parse_base_url(cfg.base_url, tgt)) {
        return make_error(error_kind::bad_config, *why);
    }
    if (!tgt.tls && !is_loopback(tgt)) {
        // A token sent in clear to anything but this machine is a token given away.
        return make_error(error_kind::bad_config,
                          "refusing plain http:// for " + tgt.authority +
                              ": the token would cross the network unencrypted; use an "
                              "https:// URL (http:// is only allowed for 127.0.0.1, ::1 or "
                              "localhost)");
    }
    const std::array<std::chrono::milliseconds, 5> timeouts = {
        cfg.resolve_timeout, cfg.connect_timeout, cfg.handshake_timeout, cfg.write_timeout,
        cfg.read_timeout};
    for (const auto t : timeouts) {
        if (t.count() <= 0) {
            return make_error(error_kind::bad_config, "every API timeout must be positive");
        }
    }
    if (cfg.max_body_bytes == 0) {
        return make_error(error_kind::bad_config, "the API response size limit must be positive");
    }
    if (!tgt.tls) {
        return std::nullopt;
    }
    if (!cfg.extra_ca_file.empty()) {
        return read_extra_cas();
    }
    if (!cfg.use_system_trust) {
        return make_error(error_kind::bad_config,
                          "no trusted certificates: the system store is off and no CA file "
                          "was given");
    }
    return std::nullopt;
}

std::optional<error> client::impl::read_extra_cas() {
    // OpenSSL's own message for a missing file is vague; errno names the problem.
    std::FILE* f = std::fopen(cfg.extra_ca_file.c_str(), "r");
    if (f == nullptr) {
        return make_error(error_kind::bad_config, "cannot read the CA file '" + cfg.extra_ca_file +
                                                      "' (AIVEN_CA_CERT): " + std::strerror(errno));
    }
    // What load_verify_file reads: certificates and CRLs, other PEM blocks skipped.
    ERR_clear_error();
    extra_cas.reset(PEM_X509_INFO_read(f, nullptr, nullptr, nullptr));
    std::fclose(f);
    std::string why = "no certificate found";
    if (!extra_cas) {
        if (const char* reason = ERR_reason_error_string(ERR_peek_last_error())) {
            why = reason;
        }
    }
    ERR_clear_error();
    bool any = false;
    for (int i = 0; extra_cas && i < sk_X509_INFO_num(extra_cas.get()); ++i) {
        const X509_INFO* info = sk_X509_INFO_value(extra_cas.get(), i);
        any = any || info->x509 != nullptr || info->crl != nullptr;
    }
    if (!any) {
        extra_cas.reset();
        return make_error(error_kind::bad_config,
                          "the CA file '" + cfg.extra_ca_file +
                              "' (AIVEN_CA_CERT) holds no usable PEM certificate: " + why);
    }
    return std::nullopt;
}

boost::system::result<ssl::context*, error> client::impl::tls_context() {
    if (tls_ctx) {
        return &*tls_ctx;
    }
    ssl::context ctx(ssl::context::tls_client);
    SSL_CTX* native = ctx.native_handle();
    if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
        return make_error(error_kind::bad_config, "cannot require TLS 1.2 in OpenSSL");
    }
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
    ctx.set_verify_mode(ssl::verify_peer);
    X509_STORE* store = SSL_CTX_get_cert_store(native);
    if (cfg.use_system_trust) {
        // Not set_default_verify_paths: that parses the whole CA bundle (some 140
        // certificates) into memory for the life of the context. The hashed folder
        // (SSL_CERT_DIR, else OpenSSL's default, /etc/ssl/certs on Debian) holds the same
        // certificates, and its lookup loads only those a chain needs. A bundle named by
        // SSL_CERT_FILE is still read, as OpenSSL would; so is the default bundle when the
        // default folder has no hash links (some distributions ship only the bundle).
        const char* file = std::getenv(X509_get_default_cert_file_env());
        const char* dir = std::getenv(X509_get_default_cert_dir_env());
        const char* bundle = nullptr;
        if (file != nullptr && *file != '\0') {
            bundle = file;
        } else if ((dir == nullptr || *dir == '\0') &&
                   !has_hash_links(X509_get_default_cert_dir())) {
            bundle = X509_get_default_cert_file();
        }
        if (bundle != nullptr) {
            X509_LOOKUP* by_file = X509_STORE_add_lookup(store, X509_LOOKUP_file());
            if (by_file == nullptr ||
                X509_LOOKUP_load_file(by_file, bundle, X509_FILETYPE_PEM) != 1) {
                // Like OpenSSL's default paths: a bundle that cannot be read adds nothing.
                ERR_clear_error();
            }
        }
        X509_LOOKUP* by_dir = X509_STORE_add_lookup(store, X509_LOOKUP_hash_dir());
        if (by_dir == nullptr || X509_LOOKUP_add_dir(by_dir, nullptr, X509_FILETYPE_DEFAULT) != 1) {
            ERR_clear_error();
            return make_error(error_kind::bad_config,
                              "cannot use the system's trusted certificates (" +
                                  std::string(X509_get_default_cert_dir()) + ")");
        }
    }
    for (int i = 0; extra_cas && i < sk_X509_INFO_num(extra_cas.get()); ++i) {
        const X509_INFO* info = sk_X509_INFO_value(extra_cas.get(), i);
        if ((info->x509 != nullptr && X509_STORE_add_cert(store, info->x509) != 1) ||
            (info->crl != nullptr && X509_STORE_add_crl(store, info->crl) != 1)) {
            ERR_clear_error();
            return make_error(error_kind::bad_config, "cannot trust the certificates of '" +
                                                          cfg.extra_ca_file + "' (AIVEN_CA_CERT)");
        }
    }
    tls_ctx.emplace(std::move(ctx));
    return &*tls_ctx;
}

std::chrono::milliseconds client::impl::limit(phase p) const {
    switch (p) {
        case phase::resolve:
            return cfg.resolve_timeout;
        case phase::connect:
            return cfg.connect_timeout;
        case phase::handshake:
            return cfg.handshake_timeout;
        case phase::write:
            return cfg.write_timeout;
        case phase::read:
            return cfg.read_timeout;
    }
    return cfg.read_timeout;
}

error client::impl::io_failure(phase p, const error_code& ec) const {
    const std::string where = std::string(doing(p)) + " " + tgt.authority;
    if (ec == beast::error::timeout) {
        return make_error(error_kind::timeout,
                          "timed out " + where + " after " + format_duration(limit(p)));
    }
    if (ec == http::error::body_limit) {
        return make_error(error_kind::bad_response,
                          "the response from " + tgt.authority + " is larger than the limit of " +
                              std::to_string(cfg.max_body_bytes) + " bytes");
    }
    if (is_connection_closed(ec)) {
        return make_error(
            error_kind::network,
            "network error " + where + ": the server closed the connection (" + ec.message() + ")");
    }
    if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
        return make_error(error_kind::bad_response,
                          "malformed HTTP response from " + tgt.authority + ": " + ec.message());
    }
    if (ec.category() == asio::error::get_ssl_category()) {
        return make_error(error_kind::tls, "TLS error " + where + ": " + ec.message());
    }
    return make_error(error_kind::network, "network error " + where + ": " + ec.message());
}

std::unique_ptr<connection> client::impl::take_idle() {
    while (!idle.empty()) {
        auto c = std::move(idle.back());
        idle.pop_back();
        if (looks_reusable(*c)) {
            return c;
        }
    }
    return nullptr;
}

void client::impl::give_back(std::unique_ptr<connection> c) {
    if (cfg.max_idle_connections == 0) {
        return;
    }
    while (idle.size() >= cfg.max_idle_connections) {
        idle.pop_front();
    }
    c->tcp().expires_never();
    idle.push_back(std::move(c));
}

asio::awaitable<boost::system::result<std::vector<tcp::endpoint>, error>> client::impl::resolve() {
    std::vector<tcp::endpoint> endpoints;
    const auto port = static_cast<unsigned short>(std::stoul(tgt.port));
    if (tgt.ip) {
        endpoints.emplace_back(*tgt.ip, port);
        co_return endpoints;
    }
    // Cancelling a resolver does not interrupt a getaddrinfo() already running on asio's
    // resolver thread, so awaiting the resolve itself could outlive any deadline. Instead
    // the coroutine waits on a timer that the resolve completion cuts short.
    struct state {
        explicit state(const asio::any_io_executor& e) : wake(e), resolver(e) {}
        asio::steady_timer wake;
        tcp::resolver resolver;
        bool done = false;
        error_code ec;
        tcp::resolver::results_type results;
    };
    auto st = std::make_shared<state>(ex);
    st->wake.expires_after(cfg.resolve_timeout);
    st->resolver.async_resolve(tgt.host, tgt.port,
                               [st](const error_code& ec, tcp::resolver::results_type r) {
                                   if (st->done) {
                                       return;
                                   }
                                   st->done = true;
                                   st->ec = ec;
                                   st->results = std::move(r);
                                   st->wake.cancel();
                               });
    auto [wait_ec] = co_await st->wake.async_wait(use_tuple);
    if (!st->done) {
        // The deadline passed, or the caller cancelled the request.
        st->done = true;
        st->resolver.cancel();
        co_return io_failure(phase::resolve, wait_ec ? wait_ec : error_code(beast::error::timeout));
    }
    if (st->ec) {
        co_return io_failure(phase::resolve, st->ec);
    }
    for (const auto& entry : st->results) {
        // Plain HTTP was allowed for a loopback name only: keep it on this machine.
        if (tgt.tls || entry.endpoint().address().is_loopback()) {
            endpoints.push_back(entry.endpoint());
        }
    }
    if (endpoints.empty()) {
        co_return make_error(error_kind::network,
                             "network error resolving " + tgt.authority +
                                 ": no usable address (plain http:// needs a loopback address)");
    }
    co_return endpoints;
}

asio::awaitable<boost::system::result<std::unique_ptr<connection>, error>> client::impl::open() {
    auto endpoints = co_await resolve();
    if (endpoints.has_error()) {
        co_return endpoints.error();
    }
    auto conn = std::make_unique<connection>();
    if (tgt.tls) {
        auto ctx = tls_context();
        if (ctx.has_error()) {
            co_return ctx.error();
        }
        conn->tls.emplace(ex, **ctx);
        SSL* native = conn->tls->native_handle();
        if (tgt.ip) {
            // RFC 6066 forbids IP literals in SNI; the certificate must carry the IP instead.
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), tgt.host.c_str());
        } else {
            SSL_ctrl(native, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                     const_cast<char*>(tgt.host.c_str()));
            SSL_set_hostflags(native, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            SSL_set1_host(native, tgt.host.c_str());
        }
    } else {
        conn->plain.emplace(ex);
    }
    auto& tcp_layer = conn->tcp();
    tcp_layer.expires_after(cfg.connect_timeout);
    auto [cec, ep] = co_await tcp_layer.async_connect(*endpoints, use_tuple);
    if (cec) {
        co_return io_failure(phase::connect, cec);
    }
    ++opened;
    if (tgt.tls) {
        tcp_layer.expires_after(cfg.handshake_timeout);
        auto [hec] = co_await conn->tls->async_handshake(ssl::stream_base::client, use_tuple);
        if (hec) {
            const long verify = SSL_get_verify_result(conn->tls->native_handle());
            if (verify != X509_V_OK && hec != beast::error::timeout) {
                // The verify result is what tells "hostname mismatch" from an unknown CA.
                co_return make_error(error_kind::tls,
                                     "TLS certificate verification failed for " + tgt.authority +
                                         ": certificate verify failed (" +
                                         X509_verify_cert_error_string(verify) + ")");
            }
            co_return io_failure(phase::handshake, hec);
        }
    }
    co_return std::move(conn);
}

template <class Stream>
asio::awaitable<exchange_outcome> client::impl::send_receive(Stream& stream, connection& conn,
                                                             http_request& req, bool reused) {
    auto& tcp_layer = conn.tcp();
    tcp_layer.expires_after(cfg.write_timeout);
    auto [wec, written] = co_await http::async_write(stream, req, use_tuple);
    if (wec) {
        co_return exchange_outcome{io_failure(phase::write, wec),
                                   reused && is_connection_closed(wec), false};
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(cfg.max_body_bytes);
    tcp_layer.expires_after(cfg.read_timeout);
    auto [rec, got] = co_await http::async_read(stream, conn.buffer, parser, use_tuple);
    if (rec) {
        // Only "closed before a single byte" is safe to repeat: the server dropped an idle
        // connection and never saw this request as one to answer.
        const bool retry = reused && !parser.got_some() && is_connection_closed(rec);
        co_return exchange_outcome{io_failure(phase::read, rec), retry, false};
    }
    tcp_layer.expires_never();
    auto res = parser.release();
    // After an unexpected interim (1xx) response the final one may still be on its way: such
    // a connection cannot carry another request.
    const bool reusable = res.keep_alive() && !res.need_eof() && res.result_int() >= 200;
    co_return exchange_outcome{interpret(res), false, reusable};
}

asio::awaitable<result> client::impl::exchange(http_request& req) {
    auto conn = take_idle();
    const auto attempt = [&](connection& c, bool reused) -> asio::awaitable<exchange_outcome> {
        if (c.tls) {
            co_return co_await send_receive(*c.tls, c, req, reused);
        }
        co_return co_await send_receive(*c.plain, c, req, reused);
    };
    if (conn) {
        auto out = co_await attempt(*conn, true);
        if (!out.retry_on_fresh) {
            if (out.reusable) {
                give_back(std::move(conn));
            }
            co_return std::move(out.res);
        }
        conn.reset();
    }
    auto fresh = co_await open();
    if (fresh.has_error()) {
        co_return fresh.error();
    }
    conn = std::move(*fresh);
    auto out = co_await attempt(*conn, false);
    if (out.reusable) {
        give_back(std::move(conn));
    }
    co_return std::move(out.res);
}

result client::impl::interpret(http_response& res) const {
    const unsigned status = res.result_int();
    std::optional<std::chrono::system_clock::time_point> date;
    if (const auto it = res.find(http::field::date); it != res.end()) {
        date = parse_http_date(trim(it->value()));
    }
    const std::string_view text = trim(res.body());
    if (status >= 200 && status < 300) {
        response out;
        out.status = status;
        out.server_date = date;
        if (status == 204 || text.empty()) {
            out.body = json::object{};
            return out;
        }
        error_code ec;
        // Success bodies carry tokens (login, access-token create): parse
        // into storage that is wiped when freed, then wipe the raw text.
        out.body = json::parse(text, ec, avn::protocol::wiping_storage());
        platform::wipe(res.body());
        if (ec) {
            return make_error(error_kind::bad_response,
                              "HTTP " + std::to_string(status) + " from " + tgt.authority +
                                  " with a body that is not JSON (" + ec.message() + ")");
        }
        return out;
    }
    // Redirects are not followed and 1xx is never expected: every other status is a
    // failure the caller decides about.
    std::string message = "HTTP " + std::to_string(status);
    if (const auto code = http::int_to_status(status); code != http::status::unknown) {
        message += " " + std::string(http::obsolete_reason(code));
    }
    message += " from " + tgt.authority;
    error e = make_error(error_kind::http_status, std::move(message));
    e.status = status;
    if (!text.empty()) {
        error_code ec;
        json::value parsed = json::parse(text, ec);
        if (!ec) {
            e.body = std::move(parsed);
            if (const auto* obj = e.body.if_object()) {
                if (const auto* m = obj->if_contains("message"); m && m->is_string()) {
                    e.api_message = truncate_utf8(view(m->get_string()), max_api_message);
                }
                if (e.api_message.empty()) {
                    if (const auto* errs = obj->if_contains("errors");
                        errs && errs->is_array() && !errs->get_array().empty() &&
                        errs->get_array().front().is_object()) {
                        const auto& first = errs->get_array().front().get_object();
                        if (const auto* m = first.if_contains("message"); m && m->is_string()) {
                            e.api_message = truncate_utf8(view(m->get_string()), max_api_message);
                        }
                    }
                }
            }
        }
        if (e.api_message.empty()) {
            e.api_message = truncate_utf8(text, max_api_message);
        }
    }
    return e;
}

asio::awaitable<result> client::impl::run(http::verb method, std::string path,
                                          const json::value* body, const platform::secret* token) {
    if (config_error) {
        co_return *config_error;
    }
    if (path.empty() || path.front() != '/' || !is_printable_ascii(path)) {
        co_return make_error(error_kind::bad_config,
                             "invalid API request path: it must start with '/' and hold only "
                             "printable ASCII without spaces");
    }
    if (token != nullptr && (token->empty() || !is_printable_ascii(token->expose()))) {
        co_return make_error(error_kind::bad_config,
                             "the token is empty or holds characters that cannot be sent in an "
                             "HTTP header");
    }
    std::string target = tgt.prefix + path;
    platform::wipe(path);  // a path may hold a token; the request's copy is wiped by `wiper`
    http_request req{method, target, 11};
    platform::wipe(target);
    request_wiper wiper(req);
    req.set(http::field::host, tgt.authority);
    req.set(http::field::user_agent, user_agent);
    req.set(http::field::accept, "application/json");
    if (token != nullptr) {
        std::string value = "aivenv1 ";
        value.append(token->expose());
        req.set(http::field::authorization, value);
        platform::wipe(value);
    }
    if (body != nullptr) {
        req.body() = json::serialize(*body);
        req.set(http::field::content_type, "application/json");
    }
    req.keep_alive(true);
    req.prepare_payload();

    // Like avn: only GET is repeated, and only when the network failed it.
    const int attempts = method == http::verb::get ? get_attempts : 1;
    for (int i = 1;; ++i) {
        result r = co_await exchange(req);
        if (r.has_value() || i >= attempts || r.error().kind != error_kind::network) {
            co_return r;
        }
        // A request the caller cancelled failed on purpose: repeating it would defeat that.
        const auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none) {
            co_return r;
        }
        asio::steady_timer pause(ex);
        pause.expires_after(retry_pause);
        co_await pause.async_wait(use_tuple);
    }
}

client::client(asio::any_io_executor ex, config cfg)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(cfg))) {}

client::~client() {
    impl_->idle.clear();
}

std::optional<error> client::validate() const {
    return impl_->config_error;
}

asio::awaitable<result> client::request(http::verb method, std::string path,
                                        const json::value* body, const platform::secret* token) {
    // Not a coroutine itself: an awaitable starts lazily, so a coroutine member would read
    // `impl_` only when first resumed, possibly after the client is gone. The shared state is
    // bound into the frame here, at the call.
    return impl::start(impl_, method, std::move(path), body, token);
}

std::uint64_t client::connections_opened() const {
    return impl_->opened;
}

std::size_t client::idle_connections() const {
    return impl_->idle.size();
}

bool client::tls_context_built() const {
    return impl_->tls_ctx.has_value();
}

std::size_t client::trusted_certificates_loaded() const {
    if (!impl_->tls_ctx) {
        return 0;
    }
    X509_STORE* store = SSL_CTX_get_cert_store(impl_->tls_ctx->native_handle());
    std::size_t n = 0;
    // The store's objects may be read under its lock only.
    if (X509_STORE_lock(store) == 1) {
        STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
        for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
            if (X509_OBJECT_get_type(sk_X509_OBJECT_value(objects, i)) == X509_LU_X509) {
                ++n;
            }
        }
        X509_STORE_unlock(store);
    }
    return n;
}

}  // namespace avn::agent::api
