// The sans-I/O protocol codec, driven with plain byte strings.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <string>

#include "protocol/codec.hpp"

namespace avn::protocol {
namespace {

using kind = decode_result::kind;

decode_result feed_one(frame_decoder& d, std::string_view bytes) {
    d.feed(bytes);
    return d.next();
}

TEST(frame_decoder, decodes_a_complete_request) {
    frame_decoder d;
    auto r = feed_one(d, R"({"v":1,"id":7,"op":"status"})"
                         "\n");
    ASSERT_EQ(r.what, kind::request);
    EXPECT_EQ(r.req.op, "status");
    EXPECT_EQ(r.req.id, boost::json::value(7));
    EXPECT_TRUE(r.req.args.empty());
    EXPECT_EQ(d.next().what, kind::need_more);
    EXPECT_EQ(d.buffered(), 0u);
}

TEST(frame_decoder, needs_more_until_the_newline_arrives) {
    frame_decoder d;
    const std::string line = R"({"v":1,"id":"a","op":"hello","args":{"x":[1,2]}})"
                             "\n";
    for (std::size_t i = 0; i + 1 < line.size(); ++i) {
        EXPECT_EQ(feed_one(d, line.substr(i, 1)).what, kind::need_more) << "at byte " << i;
    }
    auto r = feed_one(d, "\n");
    ASSERT_EQ(r.what, kind::request);
    EXPECT_EQ(r.req.id, boost::json::value("a"));
    EXPECT_EQ(r.req.args.at("x").as_array().size(), 2u);
}

TEST(frame_decoder, splits_several_requests_in_one_chunk) {
    frame_decoder d;
    d.feed(R"({"v":1,"id":1,"op":"a"})"
           "\n"
           R"({"v":1,"id":2,"op":"b"})"
           "\r\n"
           "\n"
           R"({"v":1,"id":3,"op":"c"})");
    auto a = d.next();
    auto b = d.next();
    ASSERT_EQ(a.what, kind::request);
    ASSERT_EQ(b.what, kind::request);
    EXPECT_EQ(a.req.op, "a");
    EXPECT_EQ(b.req.op, "b");  // the CR is stripped, the blank line skipped
    EXPECT_EQ(d.next().what, kind::need_more);
    auto c = feed_one(d, "\n");
    ASSERT_EQ(c.what, kind::request);
    EXPECT_EQ(c.req.op, "c");
}

TEST(frame_decoder, rejects_line_above_limit_without_newline) {
    limits lim;
    lim.max_line_bytes = 100;
    frame_decoder d(lim);
    auto r = feed_one(d, std::string(101, 'x'));
    ASSERT_EQ(r.what, kind::error);
    EXPECT_EQ(r.err.code, errc::line_too_long);
    EXPECT_TRUE(r.fatal);
    EXPECT_TRUE(d.failed());
    EXPECT_EQ(d.buffered(), 0u);  // nothing kept after the failure
    // A failed decoder ignores later bytes.
    EXPECT_EQ(feed_one(d, R"({"v":1,"id":1,"op":"a"})"
                          "\n")
                  .what,
              kind::need_more);
}

TEST(frame_decoder, rejects_long_line_even_when_newline_comes_in_same_chunk) {
    limits lim;
    lim.max_line_bytes = 10;
    frame_decoder d(lim);
    auto r = feed_one(d, std::string(11, ' ') + "\n");
    ASSERT_EQ(r.what, kind::error);
    EXPECT_EQ(r.err.code, errc::line_too_long);
}

TEST(frame_decoder, accepts_line_exactly_at_limit) {
    const std::string line = R"({"v":1,"id":1,"op":"a"})";
    limits lim;
    lim.max_line_bytes = line.size();
    frame_decoder d(lim);
    EXPECT_EQ(feed_one(d, line + "\n").what, kind::request);
}

TEST(frame_decoder, malformed_json_is_fatal) {
    frame_decoder d;
    auto r = feed_one(d, "{\"v\":1,\"id\":1,\n");
    ASSERT_EQ(r.what, kind::error);
    EXPECT_EQ(r.err.code, errc::bad_json);
    EXPECT_TRUE(r.fatal);
}

TEST(frame_decoder, deep_nesting_is_fatal) {
    frame_decoder d;
    std::string deep = R"({"v":1,"id":1,"op":"a","args":{"x":)";
    deep += std::string(20, '[') + std::string(20, ']') + "}}\n";
    auto r = feed_one(d, deep);
    ASSERT_EQ(r.what, kind::error);
    EXPECT_EQ(r.err.code, errc::too_deep);
    EXPECT_TRUE(r.fatal);
}

TEST(decode_request, unknown_fields_are_ignored_and_args_kept) {
    auto r = decode_request(R"({"v":1,"id":1,"op":"x","future":true,"args":{"k":"v"}})");
    ASSERT_EQ(r.what, kind::request);
    EXPECT_EQ(r.req.args.at("k").as_string(), "v");
}

TEST(decode_request, newer_version_is_not_fatal_and_echoes_id) {
    auto r = decode_request(R"({"v":2,"id":"abc","op":"status"})");
    ASSERT_EQ(r.what, kind::error);
    EXPECT_EQ(r.err.code, errc::unsupported_version);
    EXPECT_FALSE(r.fatal);
    EXPECT_EQ(r.id, boost::json::value("abc"));
}

TEST(decode_request, huge_version_number_is_unsupported) {
    auto r = decode_request(R"({"v":18446744073709551615,"id":1,"op":"status"})");
    ASSERT_EQ(r.what, kind::error);
    EXPECT_EQ(r.err.code, errc::unsupported_version);
}

TEST(decode_request, shape_errors_are_not_fatal) {
    const char* cases[] = {
        R"([1,2,3])",                                 // not an object
        R"({"v":1,"op":"status"})",                   // no id
        R"({"v":1,"id":1.5,"op":"status"})",          // id of the wrong type
        R"({"v":1,"id":{},"op":"status"})",           // id of the wrong type
        R"({"id":1,"op":"status"})",                  // no version
        R"({"v":"1","id":1,"op":"status"})",          // version not an integer
        R"({"v":1,"id":1})",                          // no op
        R"({"v":1,"id":1,"op":""})",                  // empty op
        R"({"v":1,"id":1,"op":7})",                   // op not a string
        R"({"v":1,"id":1,"op":"status","args":[]})",  // args not an object
    };
    for (const char* c : cases) {
        auto r = decode_request(c);
        ASSERT_EQ(r.what, kind::error) << c;
        EXPECT_EQ(r.err.code, errc::bad_request) << c;
        EXPECT_FALSE(r.fatal) << c;
    }
}

TEST(decode_request, oversized_fields_are_rejected) {
    limits lim;
    lim.max_string_bytes = 8;
    lim.max_id_bytes = 4;
    lim.max_op_bytes = 5;
    lim.max_array_items = 3;
    EXPECT_EQ(decode_request(R"({"v":1,"id":"12345","op":"a"})", lim).err.code, errc::bad_request);
    EXPECT_EQ(decode_request(R"({"v":1,"id":1,"op":"abcdef"})", lim).err.code, errc::bad_request);
    auto s = decode_request(R"({"v":1,"id":1,"op":"a","args":{"p":"123456789"}})", lim);
    EXPECT_EQ(s.err.code, errc::bad_request);
    EXPECT_EQ(s.id, boost::json::value(1));
    EXPECT_EQ(decode_request(R"({"v":1,"id":1,"op":"a","args":{"l":[1,2,3,4]}})", lim).err.code,
              errc::bad_request);
    EXPECT_EQ(decode_request(R"({"v":1,"id":1,"op":"a","args":{"l":[1,2,3]}})", lim).what,
              kind::request);
    lim.max_object_members = 5;  // the request's own v, id, op, args count too
    const auto many = decode_request(
        R"({"v":1,"id":1,"op":"a","args":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6}})", lim);
    EXPECT_EQ(many.err.code, errc::bad_request);
    EXPECT_NE(many.err.message.find("too many members"), std::string::npos) << many.err.message;
    EXPECT_EQ(
        decode_request(R"({"v":1,"id":1,"op":"a","args":{"a":1,"b":2,"c":3,"d":4,"e":5}})", lim)
            .what,
        kind::request);
    const auto long_key = decode_request(R"({"v":1,"id":1,"op":"a","args":{"123456789":1}})", lim);
    EXPECT_EQ(long_key.err.code, errc::bad_request);
    EXPECT_NE(long_key.err.message.find("a key is too long"), std::string::npos)
        << long_key.err.message;
}

TEST(decode_request, unknown_op_is_a_request_for_the_dispatcher) {
    // The codec does not know the ops; the agent answers unknown_op.
    auto r = decode_request(R"({"v":1,"id":1,"op":"frobnicate"})");
    ASSERT_EQ(r.what, kind::request);
    EXPECT_EQ(r.req.op, "frobnicate");
}

TEST(encode, result_and_error_lines_round_trip) {
    wiping_buffer out;
    encode_result(out, 42, boost::json::object{{"x", 1}});
    encode_error(out, "id-1",
                 error{errc::api_error, "the API refused", 403u, "Authentication failed"});
    const std::string text(out.view());
    const auto nl = text.find('\n');
    ASSERT_NE(nl, std::string::npos);
    ASSERT_EQ(text.back(), '\n');

    reply ok, bad;
    std::string why;
    ASSERT_TRUE(decode_reply(text.substr(0, nl), ok, why)) << why;
    EXPECT_TRUE(ok.ok);
    EXPECT_EQ(ok.id, boost::json::value(42));
    EXPECT_EQ(ok.result.at("x"), boost::json::value(1));
    // A result (a token, say) stays in storage that wipes what it frees.
    EXPECT_EQ(ok.result.storage().get(), wiping_storage().get());
    EXPECT_EQ(ok.result.at("x").storage().get(), wiping_storage().get());

    ASSERT_TRUE(decode_reply(text.substr(nl + 1, text.size() - nl - 2), bad, why)) << why;
    EXPECT_FALSE(bad.ok);
    EXPECT_EQ(bad.err.code, errc::api_error);
    EXPECT_EQ(bad.code_text, "api_error");
    EXPECT_EQ(bad.err.message, "the API refused");
    EXPECT_EQ(bad.err.api_status, 403u);
    EXPECT_EQ(bad.err.api_message, "Authentication failed");
}

TEST(encode, request_line_is_decodable) {
    wiping_buffer out;
    encode_request(out, 5, "login", boost::json::object{{"email", "a@b.c"}});
    frame_decoder d;
    d.feed(out.view());
    auto r = d.next();
    ASSERT_EQ(r.what, kind::request);
    EXPECT_EQ(r.req.op, "login");
    EXPECT_EQ(r.req.args.at("email").as_string(), "a@b.c");
}

TEST(decode_reply, rejects_non_replies) {
    reply r;
    std::string why;
    EXPECT_FALSE(decode_reply("nope", r, why));
    EXPECT_FALSE(decode_reply("[]", r, why));
    EXPECT_FALSE(decode_reply(R"({"v":1,"id":1})", r, why));
    EXPECT_FALSE(decode_reply(R"({"v":1,"id":1,"error":{"code":1}})", r, why));
}

TEST(decode_reply, unknown_error_code_keeps_its_text) {
    reply r;
    std::string why;
    ASSERT_TRUE(
        decode_reply(R"({"v":1,"id":1,"error":{"code":"from_the_future","message":"m"}})", r, why));
    EXPECT_EQ(r.err.code, errc::internal);
    EXPECT_EQ(r.code_text, "from_the_future");
}

TEST(errc, every_code_has_its_documented_wire_name_both_ways) {
    // The names clients match on (docs/PROTOCOL.md, "Error codes"): written
    // out here so that a renamed or forgotten code fails.
    const std::pair<errc, std::string_view> names[] = {
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
    };
    for (const auto& [code, name] : names) {
        EXPECT_EQ(to_string(code), name);
        EXPECT_EQ(errc_from_string(name), code) << name;
    }
    EXPECT_FALSE(errc_from_string("from_the_future"));
    EXPECT_TRUE(is_fatal(errc::bad_json));
    EXPECT_FALSE(is_fatal(errc::unknown_op));
}

TEST(wiping_buffer, consume_keeps_the_rest_and_clear_releases) {
    wiping_buffer b;
    b.append("hello world");
    b.consume(6);
    EXPECT_EQ(b.view(), "world");
    b.append(std::string(1000, 'x'));  // forces a reallocation
    EXPECT_EQ(b.size(), 1005u);
    EXPECT_EQ(b.view().substr(0, 5), "world");
    b.consume(10000);
    EXPECT_TRUE(b.empty());
    b.clear();
    EXPECT_EQ(b.capacity(), 0u);
}

}  // namespace
}  // namespace avn::protocol
