// Expected strings are what Python 3.11's json module and avn's table code print for the same
// input, except where a comment says that avn has no answer there.
#include "helper/render.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace {

using avn::helper::format_cell;
using avn::helper::python_float_repr;
using avn::helper::render_table;
using avn::helper::to_avn_json;

boost::json::value parse(std::string_view text) {
    return boost::json::parse(text);
}

std::string table(std::string_view rows, const std::vector<std::string>& columns) {
    return render_table(parse(rows).as_array(), columns);
}

std::string cell(std::string_view key, std::string_view value) {
    return format_cell(key, parse(value));
}

// python_float_repr

TEST(python_float_repr, integral_value_keeps_point_zero) {
    EXPECT_EQ(python_float_repr(3600.0), "3600.0");
    EXPECT_EQ(python_float_repr(0.0), "0.0");
    EXPECT_EQ(python_float_repr(1e15), "1000000000000000.0");
    EXPECT_EQ(python_float_repr(9999999999999998.0), "9999999999999998.0");
}

TEST(python_float_repr, prints_shortest_round_trip_digits) {
    EXPECT_EQ(python_float_repr(0.1), "0.1");
    EXPECT_EQ(python_float_repr(1.0 / 3.0), "0.3333333333333333");
    EXPECT_EQ(python_float_repr(123456789.125), "123456789.125");
    EXPECT_EQ(python_float_repr(0.5), "0.5");
}

TEST(python_float_repr, switches_to_exponent_from_1e16) {
    EXPECT_EQ(python_float_repr(1e16), "1e+16");
    EXPECT_EQ(python_float_repr(1e22), "1e+22");
    EXPECT_EQ(python_float_repr(123456789012345680.0), "1.2345678901234568e+17");
    EXPECT_EQ(python_float_repr(std::numeric_limits<double>::max()), "1.7976931348623157e+308");
}

TEST(python_float_repr, switches_to_exponent_below_1e_minus_4) {
    EXPECT_EQ(python_float_repr(0.0001), "0.0001");
    EXPECT_EQ(python_float_repr(1e-05), "1e-05");
    EXPECT_EQ(python_float_repr(1.5e-05), "1.5e-05");
    EXPECT_EQ(python_float_repr(2.5e-07), "2.5e-07");
    EXPECT_EQ(python_float_repr(5e-324), "5e-324");
}

TEST(python_float_repr, keeps_the_sign) {
    EXPECT_EQ(python_float_repr(-0.0), "-0.0");
    EXPECT_EQ(python_float_repr(-2.5), "-2.5");
    EXPECT_EQ(python_float_repr(-1e-07), "-1e-07");
    EXPECT_EQ(python_float_repr(-1e16), "-1e+16");
}

TEST(python_float_repr, prints_non_finite_values_as_json_dumps_does) {
    EXPECT_EQ(python_float_repr(std::numeric_limits<double>::infinity()), "Infinity");
    EXPECT_EQ(python_float_repr(-std::numeric_limits<double>::infinity()), "-Infinity");
    EXPECT_EQ(python_float_repr(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

// to_avn_json

TEST(to_avn_json, indents_by_four_sorts_keys_and_ends_with_newline) {
    const auto v = parse(R"({"b": [1, [], {}, [2]], "a": {"y": null, "x": true}})");
    EXPECT_EQ(to_avn_json(v),
              "{\n"
              "    \"a\": {\n"
              "        \"x\": true,\n"
              "        \"y\": null\n"
              "    },\n"
              "    \"b\": [\n"
              "        1,\n"
              "        [],\n"
              "        {},\n"
              "        [\n"
              "            2\n"
              "        ]\n"
              "    ]\n"
              "}\n");
}

TEST(to_avn_json, prints_empty_array_and_object_on_one_line) {
    EXPECT_EQ(to_avn_json(parse("[]")), "[]\n");
    EXPECT_EQ(to_avn_json(parse("{}")), "{}\n");
}

TEST(to_avn_json, prints_one_element_array_of_object) {
    EXPECT_EQ(to_avn_json(parse(R"([{"b": 1, "a": "x"}])")),
              "[\n"
              "    {\n"
              "        \"a\": \"x\",\n"
              "        \"b\": 1\n"
              "    }\n"
              "]\n");
}

TEST(to_avn_json, escapes_non_ascii_quotes_backslash_and_control_characters) {
    const auto v = parse(R"({"Z": "q\"\\\n\u0001\u007f/", "\u00e9": "\ud83d\ude00"})");
    EXPECT_EQ(to_avn_json(v),
              "{\n"
              "    \"Z\": \"q\\\"\\\\\\n\\u0001\\u007f/\",\n"
              "    \"\\u00e9\": \"\\ud83d\\ude00\"\n"
              "}\n");
}

TEST(to_avn_json, names_short_escapes_and_uses_lower_case_hex) {
    EXPECT_EQ(to_avn_json(parse(R"("\b\f\n\r\t\u001f\u00ff\u20ac\uffff")")),
              "\"\\b\\f\\n\\r\\t\\u001f\\u00ff\\u20ac\\uffff\"\n");
}

TEST(to_avn_json, sorts_keys_by_code_point) {
    const auto v =
        parse(R"({"\ud83d\ude00": 1, "b": 2, "\u00e9": 3, "a": 4, "Z": 5, "\u20ac": 6})");
    EXPECT_EQ(to_avn_json(v),
              "{\n"
              "    \"Z\": 5,\n"
              "    \"a\": 4,\n"
              "    \"b\": 2,\n"
              "    \"\\u00e9\": 3,\n"
              "    \"\\u20ac\": 6,\n"
              "    \"\\ud83d\\ude00\": 1\n"
              "}\n");
}

TEST(to_avn_json, prints_scalars_as_python_does) {
    EXPECT_EQ(to_avn_json(parse("null")), "null\n");
    EXPECT_EQ(to_avn_json(parse("true")), "true\n");
    EXPECT_EQ(to_avn_json(parse("18446744073709551615")), "18446744073709551615\n");
    EXPECT_EQ(to_avn_json(parse("-9223372036854775808")), "-9223372036854775808\n");
    EXPECT_EQ(to_avn_json(parse("3600.0")), "3600.0\n");
    EXPECT_EQ(to_avn_json(parse("1E2")), "100.0\n");
    EXPECT_EQ(to_avn_json(parse("-0")), "0\n");
    EXPECT_EQ(to_avn_json(parse("1e400")), "Infinity\n");
}

TEST(to_avn_json, replaces_invalid_utf8_bytes_with_u_fffd) {
    // Python strings cannot hold such bytes; only a value built by hand can.
    EXPECT_EQ(to_avn_json(boost::json::value("a\xff\xc3(\xed\xa0\x80"
                                             "b")),
              "\"a\\ufffd\\ufffd(\\ufffd\\ufffd\\ufffdb\"\n");
}

// format_cell

TEST(format_cell, prints_null_and_booleans_as_json) {
    EXPECT_EQ(cell("a", "null"), "null");
    EXPECT_EQ(cell("a", "true"), "true");
    EXPECT_EQ(cell("a", "false"), "false");
}

TEST(format_cell, prints_integers_as_received) {
    EXPECT_EQ(cell("a", "3600"), "3600");
    EXPECT_EQ(cell("a", "-42"), "-42");
    EXPECT_EQ(cell("a", "18446744073709551615"), "18446744073709551615");
}

TEST(format_cell, prints_doubles_as_python_repr) {
    EXPECT_EQ(cell("a", "3600.0"), "3600.0");
    EXPECT_EQ(cell("a", "0.1"), "0.1");
    EXPECT_EQ(cell("a", "1e16"), "1e+16");
    EXPECT_EQ(cell("a", "0.000015"), "1.5e-05");
    EXPECT_EQ(cell("a", "-0.0"), "-0.0");
}

TEST(format_cell, prints_plain_string_as_is) {
    EXPECT_EQ(cell("a", R"("jane@example.com")"), "jane@example.com");
    EXPECT_EQ(cell("a", R"("abc+/= ~'")"), "abc+/= ~'");
    EXPECT_EQ(cell("a", R"("")"), "");
}

TEST(format_cell, json_encodes_string_with_quote_or_backslash) {
    EXPECT_EQ(cell("a", R"("say \"hi\"")"), R"("say \"hi\"")");
    EXPECT_EQ(cell("a", R"("C:\\dir")"), R"("C:\\dir")");
}

TEST(format_cell, json_encodes_string_with_control_characters) {
    EXPECT_EQ(cell("a", R"("a\nb\tc\u0001\u007f")"), R"("a\nb\tc\u0001\u007f")");
}

TEST(format_cell, json_encodes_non_ascii_string) {
    EXPECT_EQ(cell("a", R"("caf\u00e9")"), R"("caf\u00e9")");
    EXPECT_EQ(cell("a", R"("\ud83d\ude00")"), R"("\ud83d\ude00")");
}

TEST(format_cell, keeps_pound_and_euro_signs_unencoded) {
    EXPECT_EQ(cell("a", R"("\u00a35 \u20ac")"),
              "\u00a3"
              "5 \u20ac");
    EXPECT_EQ(cell("a", R"("\u00a3\u00e9")"), R"("\u00a3\u00e9")");
    EXPECT_EQ(cell("a", R"("\\u00a3")"), R"("\\u00a3")");
}

TEST(format_cell, prints_empty_list_as_empty_string) {
    EXPECT_EQ(cell("a", "[]"), "");
}

TEST(format_cell, joins_list_elements_with_comma_space) {
    EXPECT_EQ(cell("projects", R"(["alpha", "beta"])"), "alpha, beta");
    EXPECT_EQ(cell("a", R"(["x"])"), "x");
}

TEST(format_cell, flattens_nested_lists_and_formats_each_element_as_a_cell) {
    EXPECT_EQ(cell("a", R"([[1, [2]], [], "x", null, true, 1.5, "\u00e9"])"),
              R"(1, 2, , x, null, true, 1.5, "\u00e9")");
}

TEST(format_cell, prints_objects_in_lists_as_sorted_json) {
    EXPECT_EQ(cell("a", R"([{"b": 1, "a": [1, 2]}])"), R"({"a": [1, 2], "b": 1})");
}

TEST(format_cell, prints_object_as_compact_sorted_ascii_json) {
    EXPECT_EQ(cell("a", R"({"z": {"y": [], "x": {}}, "a": "\u00e9", "m": null, "f": 0.5})"),
              R"({"a": "\u00e9", "f": 0.5, "m": null, "z": {"x": {}, "y": []}})");
    EXPECT_EQ(cell("a", "{}"), "{}");
}

TEST(format_cell, drops_microseconds_from_time_keys) {
    EXPECT_EQ(cell("expiry_time", R"("2024-05-01T10:20:30.123456Z")"), "2024-05-01T10:20:30Z");
    EXPECT_EQ(cell("meta.last_used_time", R"("2024-05-01T10:20:30.5Z")"), "2024-05-01T10:20:30Z");
}

TEST(format_cell, leaves_time_without_microseconds_unchanged) {
    EXPECT_EQ(cell("expiry_time", R"("2024-05-01T10:20:30Z")"), "2024-05-01T10:20:30Z");
}

TEST(format_cell, leaves_time_not_ending_in_z_unchanged) {
    EXPECT_EQ(cell("expiry_time", R"("2024-05-01T10:20:30.123456+00:00")"),
              "2024-05-01T10:20:30.123456+00:00");
}

TEST(format_cell, cuts_time_value_at_first_dot) {
    EXPECT_EQ(cell("x_time", R"("a.b.cZ")"), "aZ");
}

TEST(format_cell, shows_token_validity_begin_in_full) {
    EXPECT_EQ(cell("token_validity_begin", R"("2024-05-01T10:20:30.123456Z")"),
              "2024-05-01T10:20:30.123456Z");
}

TEST(format_cell, does_not_trim_times_inside_lists) {
    EXPECT_EQ(cell("expiry_time", R"(["2024-05-01T10:20:30.5Z"])"), "2024-05-01T10:20:30.5Z");
}

// render_table

TEST(render_table, prints_nothing_for_empty_list) {
    EXPECT_EQ(table("[]", {"a", "b"}), "");
}

TEST(render_table, takes_width_from_header_when_cells_are_shorter) {
    EXPECT_EQ(table(R"([{"a": 1, "b": "x"}])", {"a", "b"}),
              "A  B\n"
              "=  =\n"
              "1  x\n");
}

TEST(render_table, takes_width_from_widest_cell) {
    EXPECT_EQ(table(R"([{"id": "abcdefgh", "n": 123456789}])", {"id", "n"}),
              "ID        N        \n"
              "========  =========\n"
              "abcdefgh  123456789\n");
}

TEST(render_table, keeps_trailing_spaces_on_header_and_trims_rows) {
    EXPECT_EQ(table(R"([{"description": "x", "state": "active"}])", {"state", "description"}),
              "STATE   DESCRIPTION\n"
              "======  ===========\n"
              "active  x\n");
}

TEST(render_table, takes_widths_across_all_rows) {
    EXPECT_EQ(table(R"([{"name": "a", "v": 1}, {"name": "longer name", "v": 22},
                        {"name": "b", "v": 333333}])",
                    {"name", "v"}),
              "NAME         V     \n"
              "===========  ======\n"
              "a            1\n"
              "longer name  22\n"
              "b            333333\n");
}

TEST(render_table, shows_missing_key_as_empty_cell_and_trims_leading_padding) {
    EXPECT_EQ(table(R"([{"a": "first", "b": "second"}, {"b": "only b"}])", {"a", "b"}),
              "A      B     \n"
              "=====  ======\n"
              "first  second\n"
              "only b\n");
    EXPECT_EQ(table(R"([{"a": "first", "b": "second"}, {"a": "only a"}])", {"a", "b"}),
              "A       B     \n"
              "======  ======\n"
              "first   second\n"
              "only a\n");
}

TEST(render_table, prints_empty_line_for_row_of_empty_cells) {
    EXPECT_EQ(table(R"([{"a": "", "b": ""}])", {"a", "b"}),
              "A  B\n"
              "=  =\n"
              "\n");
}

TEST(render_table, makes_column_absent_from_every_row_as_wide_as_its_name) {
    // avn fails here with a KeyError.
    EXPECT_EQ(table(R"([{"a": "x"}])", {"a", "absent"}),
              "A  ABSENT\n"
              "=  ======\n"
              "x\n");
}

TEST(render_table, measures_widths_in_code_points) {
    EXPECT_EQ(table(R"([{"p": "\u00a3500", "q": "x"}])", {"p", "q"}),
              "P     Q\n"
              "====  =\n"
              "\u00a3"
              "500  x\n");
    EXPECT_EQ(table(R"([{"\u20ac": 1234, "q": "x"}])", {"\u20ac", "q"}),
              "\u20ac"
              "     Q\n"
              "====  =\n"
              "1234  x\n");
}

TEST(render_table, measures_escaped_cells_with_their_quotes) {
    EXPECT_EQ(table(R"([{"name": "caf\u00e9", "n": 1}])", {"name", "n"}),
              "NAME         N\n"
              "===========  =\n"
              "\"caf\\u00e9\"  1\n");
}

TEST(render_table, prints_user_info_like_avn) {
    const auto rows = R"([{"user": "jane@example.com", "real_name": "Jane Doe",
        "state": "active", "token_validity_begin": "2024-05-01T10:20:30.123456Z",
        "projects": ["alpha", "beta"], "auth": ["password", "github"], "user_id": "u1"}])";
    EXPECT_EQ(
        table(rows, {"user", "real_name", "state", "token_validity_begin", "projects", "auth"}),
        "USER              REAL_NAME  STATE   TOKEN_VALIDITY_BEGIN         PROJECTS     "
        "AUTH            \n"
        "================  =========  ======  ===========================  ===========  "
        "================\n"
        "jane@example.com  Jane Doe   active  2024-05-01T10:20:30.123456Z  alpha, beta  "
        "password, github\n");
}

TEST(render_table, prints_access_token_list_like_avn) {
    const auto rows = R"([
        {"expiry_time": "2024-06-01T00:00:00.000000Z", "token_prefix": "abc+/=",
         "description": "ci token", "max_age_seconds": 3600.0, "extend_when_used": true,
         "last_used_time": null, "last_ip": null, "last_user_agent": null},
        {"expiry_time": null, "token_prefix": "xyz", "description": "laptop",
         "max_age_seconds": null, "extend_when_used": false,
         "last_used_time": "2024-05-02T08:09:10.5Z", "last_ip": "192.0.2.1",
         "last_user_agent": "aiven-client/4.0"}])";
    const std::vector<std::string> columns = {
        "expiry_time",      "token_prefix",   "description", "max_age_seconds",
        "extend_when_used", "last_used_time", "last_ip",     "last_user_agent"};
    EXPECT_EQ(table(rows, columns),
              "EXPIRY_TIME           TOKEN_PREFIX  DESCRIPTION  MAX_AGE_SECONDS  EXTEND_WHEN_USED  "
              "LAST_USED_TIME        LAST_IP    LAST_USER_AGENT \n"
              "====================  ============  ===========  ===============  ================  "
              "====================  =========  ================\n"
              "2024-06-01T00:00:00Z  abc+/=        ci token     3600.0           true              "
              "null                  null       null\n"
              "null                  xyz           laptop       null             false             "
              "2024-05-02T08:09:10Z  192.0.2.1  aiven-client/4.0\n");
}

TEST(render_table, reaches_into_objects_through_dotted_columns) {
    EXPECT_EQ(table(R"([{"meta": {"ping": 3, "inner": {"deep": true}}, "name": "n"}])",
                    {"name", "meta", "meta.ping", "meta.inner.deep"}),
              "NAME  META                                  META.PING  META.INNER.DEEP\n"
              "====  ====================================  =========  ===============\n"
              "n     {\"inner\": {\"deep\": true}, \"ping\": 3}  3          true\n");
}

TEST(render_table, leaves_nested_object_column_empty) {
    // avn fails here with a KeyError: it never offers a nested object as a cell.
    EXPECT_EQ(table(R"([{"meta": {"inner": {"deep": true}}}])", {"meta.inner"}),
              "META.INNER\n"
              "==========\n"
              "\n");
}

TEST(render_table, lets_later_duplicate_path_win_cell_but_not_width) {
    EXPECT_EQ(table(R"([{"a.b": "xxxxxxxx", "a": {"b": "y"}}])", {"a.b"}),
              "A.B     \n"
              "========\n"
              "y\n");
}

TEST(render_table, prints_one_line_per_item_when_rows_are_not_objects) {
    EXPECT_EQ(table(R"(["a", 1, [1, 2], {"b": 2}])", {"ignored"}),
              "a\n"
              "1\n"
              "1, 2\n"
              "{\"b\": 2}\n");
}

}  // namespace
