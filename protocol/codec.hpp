// Sans-I/O framing: bytes in, requests or errors out; replies appended to a
// buffer. The agent owns the socket; the tests and the fuzzer drive this with
// plain byte strings.
#pragma once

#include <boost/json/storage_ptr.hpp>
#include <cstddef>
#include <string_view>

#include "protocol/buffer.hpp"
#include "protocol/wire.hpp"

namespace avn::protocol {

/// A JSON storage whose blocks are wiped when freed: decoded requests can
/// hold passwords, and their copies must not outlive the request.
boost::json::storage_ptr wiping_storage();

/// Outcome of `frame_decoder::next`.
struct decode_result {
    enum class kind : std::uint8_t { need_more, request, error };
    kind what = kind::need_more;
    request req;          ///< valid when what == request
    protocol::error err;  ///< valid when what == error
    /// Set with errors: true when the connection must be closed after the
    /// error reply (framing errors), false when it lives on.
    bool fatal = false;
    /// The request id, when the line was JSON and had a usable one; echoed
    /// in error replies. Null otherwise.
    boost::json::value id;
};

/// Splits a byte stream into newline-terminated JSON requests.
///
/// Contract: call `next()` until it answers `need_more` before calling
/// `feed()` again. Then the internal buffer never holds more than one partial
/// line, so memory is bounded by `limits.max_line_bytes` plus one `feed()`.
/// After a fatal error the decoder stays failed and answers need_more.
class frame_decoder {
  public:
    explicit frame_decoder(limits lim = {}) : limits_(lim) {}

    /// Appends bytes read from the peer.
    void feed(std::string_view bytes);
    /// Extracts the next complete line, if any, and decodes it.
    decode_result next();

    /// Bytes buffered but not yet decoded (a partial line).
    [[nodiscard]] std::size_t buffered() const noexcept { return buf_.size(); }
    [[nodiscard]] bool failed() const noexcept { return failed_; }
    [[nodiscard]] const limits& get_limits() const noexcept { return limits_; }

  private:
    decode_result decode_line(std::string_view line) const;

    limits limits_;
    wiping_buffer buf_;
    std::size_t scanned_ = 0;  // bytes of buf_ already known to hold no '\n'
    bool failed_ = false;
};

/// Decodes one line (without its '\n'), applying every limit but the length.
/// Exposed for tests; `frame_decoder` uses it.
decode_result decode_request(std::string_view line, const limits& lim = {});

/// Appends `{"v":1,"id":ID,"result":RESULT}\n`.
void encode_result(wiping_buffer& out, const boost::json::value& id,
                   const boost::json::value& result);
/// Appends `{"v":1,"id":ID,"error":{"code":...,"message":...}}\n`.
void encode_error(wiping_buffer& out, const boost::json::value& id, const error& err);
/// Appends a request line; used by clients (the helper, tests, benchmarks).
void encode_request(wiping_buffer& out, const boost::json::value& id, std::string_view op,
                    const boost::json::object& args);

/// A decoded reply, as a client sees it.
struct reply {
    boost::json::value id;
    bool ok = false;
    /// When ok. In wiping storage: a result may carry a token, and decoding
    /// moves it here without a copy in plain heap memory.
    boost::json::value result = boost::json::value(wiping_storage());
    protocol::error err;    ///< when !ok; unknown codes map to `internal`
    std::string code_text;  ///< the error code exactly as sent
};

/// Parses one reply line (without its '\n'). Returns false with `why` set
/// when the line is not a well-formed reply.
bool decode_reply(std::string_view line, reply& out, std::string& why);

}  // namespace avn::protocol
