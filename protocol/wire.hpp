// The agent's socket protocol: limits, error codes, request and reply shapes.
// Specification: docs/PROTOCOL.md. This library performs no I/O.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace avn::protocol {

/// The protocol version this build speaks. Requests with a larger `v` are
/// answered with `unsupported_version`; the connection stays open.
inline constexpr std::int64_t version = 1;
/// The oldest version still accepted.
inline constexpr std::int64_t min_version = 1;

/// Hard limits, enforced before the peer's bytes cost more memory than this.
struct limits {
    std::size_t max_line_bytes = 64 * 1024;    ///< one request line, without its '\n'
    std::size_t max_depth = 8;                 ///< JSON nesting depth of a request
    std::size_t max_string_bytes = 16 * 1024;  ///< any string value in a request
    std::size_t max_id_bytes = 128;            ///< a string `id`
    std::size_t max_op_bytes = 64;             ///< the `op` name
    std::size_t max_array_items = 256;         ///< any array in a request
    std::size_t max_object_members = 64;       ///< any object in a request
};

/// Stable machine-readable error codes. The wire form is the snake_case name
/// returned by `to_string`; never renumber or rename one.
enum class errc : std::uint8_t {
    // Framing: the connection is closed after the reply.
    line_too_long = 1,
    bad_json = 2,
    too_deep = 3,
    // Request shape: the connection stays open.
    bad_request = 10,
    unsupported_version = 11,
    unknown_op = 12,
    // Agent state.
    too_many_connections = 20,
    too_many_requests = 21,
    shutting_down = 22,
    internal = 23,
    // Session, keyring and API (the session and token ops).
    not_logged_in = 30,
    api_error = 31,
    network_error = 32,
    timeout = 33,
    tls_error = 34,
    keyring_error = 35,
    keyring_locked = 36,
    cancelled = 37,
    otp_required = 38,
    insufficient_ttl = 39,
};

/// The wire name of `code`, e.g. "line_too_long".
std::string_view to_string(errc code) noexcept;
/// Parses a wire name; nullopt when unknown (a newer agent may send new ones).
std::optional<errc> errc_from_string(std::string_view name) noexcept;
/// True for the framing errors after which the agent closes the connection.
bool is_fatal(errc code) noexcept;

/// An error reply. `message` is ours, written for a person; `api_status` and
/// `api_message` carry what the Aiven API answered, kept apart from ours.
struct error {
    errc code = errc::internal;
    std::string message;
    std::optional<unsigned> api_status;
    std::optional<std::string> api_message;
};

/// A decoded request. `id` is an integer or a string and is echoed verbatim.
struct request {
    std::int64_t v = version;
    boost::json::value id;
    std::string op;
    boost::json::object args;  ///< empty when the request has no `args`
};

}  // namespace avn::protocol
