#include "protocol/codec.hpp"

#include <array>
#include <boost/json/error.hpp>
#include <boost/json/memory_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serializer.hpp>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

namespace avn::protocol {

namespace {

// Heap storage that wipes every block before freeing it.
class wiping_resource final : public boost::json::memory_resource {
    // Boost.JSON asks for at most max_align_t alignment, which malloc gives;
    // malloc/free also tolerate the library passing a different alignment
    // to deallocate than it did to allocate.
    void* do_allocate(std::size_t n, std::size_t align) override {
        if (align > alignof(std::max_align_t)) {
            throw std::bad_alloc();
        }
        void* p = std::malloc(n == 0 ? 1 : n);
        if (p == nullptr) {
            throw std::bad_alloc();
        }
        return p;
    }
    void do_deallocate(void* p, std::size_t n, std::size_t /*align*/) override {
        secure_wipe(p, n);
        std::free(p);
    }
    bool do_is_equal(const memory_resource& other) const noexcept override {
        return this == &other;
    }
};

constexpr std::array<std::pair<errc, std::string_view>, 20> errc_names{{
    {errc::line_too_long, "line_too_long"},
    {errc::bad_json, "bad_json"},
    {errc::too_deep, "too_deep"},
    {errc::bad_request, "bad_request"},
    {errc::unsupported_version, "unsupported_version"},
    {errc::unknown_op, "unknown_op"},
    {errc::too_many_connections, "too_many_connections"},
    {errc::too_many_requests, "too_many_requests"},
    {errc::shutting_down, "shutting_down"},
    {errc::internal, "internal"},
    {errc::not_logged_in, "not_logged_in"},
    {errc::api_error, "api_error"},
    {errc::network_error, "network_error"},
    {errc::timeout, "timeout"},
    {errc::tls_error, "tls_error"},
    {errc::keyring_error, "keyring_error"},
    {errc::keyring_locked, "keyring_locked"},
    {errc::cancelled, "cancelled"},
    {errc::otp_required, "otp_required"},
    {errc::insufficient_ttl, "insufficient_ttl"},
}};

decode_result fail(errc code, std::string message, bool fatal, boost::json::value id = nullptr) {
    decode_result r;
    r.what = decode_result::kind::error;
    r.err.code = code;
    r.err.message = std::move(message);
    r.fatal = fatal;
    r.id = std::move(id);
    return r;
}

// Walks the parsed value and reports the first member that breaks a size
// limit. The line limit already bounds the parse itself; these bound what a
// handler may be asked to store.
const char* over_limit(const boost::json::value& v, const limits& lim) {
    switch (v.kind()) {
        case boost::json::kind::string:
            return v.get_string().size() > lim.max_string_bytes ? "a string is too long" : nullptr;
        case boost::json::kind::array: {
            const auto& a = v.get_array();
            if (a.size() > lim.max_array_items) {
                return "an array has too many items";
            }
            for (const auto& e : a) {
                if (const char* why = over_limit(e, lim)) {
                    return why;
                }
            }
            return nullptr;
        }
        case boost::json::kind::object: {
            const auto& o = v.get_object();
            if (o.size() > lim.max_object_members) {
                return "an object has too many members";
            }
            for (const auto& kv : o) {
                if (kv.key().size() > lim.max_string_bytes) {
                    return "a key is too long";
                }
                if (const char* why = over_limit(kv.value(), lim)) {
                    return why;
                }
            }
            return nullptr;
        }
        default:
            return nullptr;
    }
}

// Serializes straight into `out`: no copy of the value and no staging
// buffer that would hold the bytes (tokens, for one) a second time.
void append_json(wiping_buffer& out, const boost::json::value& jv) {
    boost::json::serializer sr;
    sr.reset(&jv);
    while (!sr.done()) {
        constexpr std::size_t step = 512;
        out.commit(sr.read(out.prepare(step), step).size());
    }
}

}  // namespace

boost::json::storage_ptr wiping_storage() {
    static wiping_resource resource;
    return boost::json::storage_ptr(&resource);
}

std::string_view to_string(errc code) noexcept {
    for (const auto& [c, name] : errc_names) {
        if (c == code) {
            return name;
        }
    }
    return "internal";
}

std::optional<errc> errc_from_string(std::string_view name) noexcept {
    for (const auto& [c, n] : errc_names) {
        if (n == name) {
            return c;
        }
    }
    return std::nullopt;
}

bool is_fatal(errc code) noexcept {
    return code == errc::line_too_long || code == errc::bad_json || code == errc::too_deep;
}

decode_result decode_request(std::string_view line, const limits& lim) {
    boost::json::parse_options opts;
    opts.max_depth = lim.max_depth;
    boost::system::error_code ec;
    boost::json::value jv = boost::json::parse(line, ec, wiping_storage(), opts);
    if (ec == boost::json::error::too_deep) {
        return fail(errc::too_deep,
                    "request nests deeper than " + std::to_string(lim.max_depth) + " levels", true);
    }
    if (ec) {
        return fail(errc::bad_json, "request is not valid JSON: " + ec.message(), true);
    }
    if (!jv.is_object()) {
        return fail(errc::bad_request, "request must be a JSON object", false);
    }
    auto& obj = jv.get_object();

    // The id comes first so that every later error can echo it.
    boost::json::value id = nullptr;
    if (const auto* idv = obj.if_contains("id")) {
        if (idv->is_int64() || idv->is_uint64()) {
            id = *idv;
        } else if (idv->is_string() && idv->get_string().size() <= lim.max_id_bytes) {
            id = *idv;
        } else {
            return fail(errc::bad_request,
                        "\"id\" must be an integer or a string of at most " +
                            std::to_string(lim.max_id_bytes) + " bytes",
                        false);
        }
    } else {
        return fail(errc::bad_request, "request has no \"id\"", false);
    }

    if (const char* why = over_limit(jv, lim)) {
        return fail(errc::bad_request, std::string("request exceeds a limit: ") + why, false, id);
    }

    const auto* vv = obj.if_contains("v");
    if (vv == nullptr || !(vv->is_int64() || vv->is_uint64())) {
        return fail(errc::bad_request, "request has no integer \"v\" (protocol version)", false,
                    id);
    }
    const bool too_new = vv->is_uint64() || vv->get_int64() > version;
    if (too_new || vv->get_int64() < min_version) {
        return fail(errc::unsupported_version,
                    "this agent speaks protocol versions " + std::to_string(min_version) + " to " +
                        std::to_string(version) + "; upgrade avn-agent to use newer ones",
                    false, id);
    }

    const auto* opv = obj.if_contains("op");
    if (opv == nullptr || !opv->is_string() || opv->get_string().empty() ||
        opv->get_string().size() > lim.max_op_bytes) {
        return fail(errc::bad_request, "request has no \"op\" string", false, id);
    }

    decode_result r;
    r.what = decode_result::kind::request;
    r.req.v = vv->get_int64();
    r.req.op = std::string(opv->get_string());
    if (auto* args = obj.if_contains("args")) {
        if (!args->is_object()) {
            return fail(errc::bad_request, "\"args\" must be an object", false, id);
        }
        r.req.args = std::move(args->get_object());
    } else {
        r.req.args = boost::json::object(wiping_storage());
    }
    r.req.id = id;
    r.id = std::move(id);
    return r;
}

void frame_decoder::feed(std::string_view bytes) {
    if (failed_) {
        return;
    }
    buf_.append(bytes);
}

decode_result frame_decoder::next() {
    while (!failed_) {
        std::string_view data = buf_.view();
        const auto nl = data.find('\n', scanned_);
        if (nl == std::string_view::npos) {
            scanned_ = data.size();
            if (data.size() > limits_.max_line_bytes) {
                failed_ = true;
                buf_.clear();
                return fail(errc::line_too_long,
                            "request line is longer than " +
                                std::to_string(limits_.max_line_bytes) + " bytes",
                            true);
            }
            return {};
        }
        if (nl > limits_.max_line_bytes) {
            failed_ = true;
            buf_.clear();
            return fail(
                errc::line_too_long,
                "request line is longer than " + std::to_string(limits_.max_line_bytes) + " bytes",
                true);
        }
        std::string_view line = data.substr(0, nl);
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        scanned_ = 0;
        if (line.find_first_not_of(" \t") == std::string_view::npos) {
            buf_.consume(nl + 1);  // blank lines are ignored
            continue;
        }
        decode_result r = decode_line(line);
        buf_.consume(nl + 1);
        if (r.what == decode_result::kind::error && r.fatal) {
            failed_ = true;
            buf_.clear();
        }
        return r;
    }
    return {};
}

decode_result frame_decoder::decode_line(std::string_view line) const {
    return decode_request(line, limits_);
}

void encode_result(wiping_buffer& out, const boost::json::value& id,
                   const boost::json::value& result) {
    // Written piecewise so that the result is not copied into a wrapper.
    out.append(R"({"v":)");
    out.append(std::to_string(version));
    out.append(R"(,"id":)");
    append_json(out, id);
    out.append(R"(,"result":)");
    append_json(out, result);
    out.append("}\n");
}

void encode_error(wiping_buffer& out, const boost::json::value& id, const error& err) {
    boost::json::object e(wiping_storage());
    e["code"] = to_string(err.code);
    e["message"] = err.message;
    if (err.api_status) {
        e["status"] = *err.api_status;
    }
    if (err.api_message) {
        e["api_message"] = *err.api_message;
    }
    boost::json::object o(wiping_storage());
    o["v"] = version;
    o["id"] = id;
    o["error"] = std::move(e);
    append_json(out, o);
    out.push_back('\n');
}

void encode_request(wiping_buffer& out, const boost::json::value& id, std::string_view op,
                    const boost::json::object& args) {
    boost::json::object o(wiping_storage());
    o["v"] = version;
    o["id"] = id;
    o["op"] = op;
    if (!args.empty()) {
        o["args"] = args;
    }
    append_json(out, o);
    out.push_back('\n');
}

bool decode_reply(std::string_view line, reply& out, std::string& why) {
    boost::system::error_code ec;
    boost::json::parse_options opts;
    opts.max_depth = 64;
    boost::json::value jv = boost::json::parse(line, ec, wiping_storage(), opts);
    if (ec) {
        why = "reply is not valid JSON: " + ec.message();
        return false;
    }
    auto* obj = jv.if_object();
    if (obj == nullptr) {
        why = "reply is not a JSON object";
        return false;
    }
    if (auto* id = obj->if_contains("id")) {
        out.id = *id;
    }
    if (auto* res = obj->if_contains("result")) {
        out.ok = true;
        out.result = std::move(*res);
        return true;
    }
    auto* err = obj->if_contains("error");
    if (err == nullptr || !err->is_object()) {
        why = "reply has neither \"result\" nor \"error\"";
        return false;
    }
    const auto& eo = err->get_object();
    out.ok = false;
    const auto* code = eo.if_contains("code");
    const auto* msg = eo.if_contains("message");
    if (code == nullptr || !code->is_string() || msg == nullptr || !msg->is_string()) {
        why = "error reply lacks \"code\" or \"message\"";
        return false;
    }
    out.code_text = std::string(code->get_string());
    out.err.code = errc_from_string(out.code_text).value_or(errc::internal);
    out.err.message = std::string(msg->get_string());
    if (const auto* st = eo.if_contains("status"); st != nullptr && st->is_int64()) {
        out.err.api_status = static_cast<unsigned>(st->get_int64());
    }
    if (const auto* am = eo.if_contains("api_message"); am != nullptr && am->is_string()) {
        out.err.api_message = std::string(am->get_string());
    }
    return true;
}

}  // namespace avn::protocol
