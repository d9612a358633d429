#include "helper/render.hpp"

#include <algorithm>
#include <array>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <system_error>

namespace avn::helper {
namespace {

namespace json = boost::json;

constexpr char32_t replacement_character = 0xFFFD;

struct decoded_char {
    char32_t code_point;
    std::size_t length;  // bytes consumed, at least 1
};

// Strict decoding (no overlong forms, no surrogates, nothing above U+10FFFF) so that the
// escapes we print always name a real character; a bad byte stands for itself as U+FFFD.
decoded_char decode_utf8(std::string_view s, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char lead = byte(i);
    if (lead < 0x80) {
        return {lead, 1};
    }
    std::size_t length = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if ((lead & 0xE0) == 0xC0) {
        length = 2;
        cp = lead & 0x1Fu;
        min = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
        length = 3;
        cp = lead & 0x0Fu;
        min = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
        length = 4;
        cp = lead & 0x07u;
        min = 0x10000;
    } else {
        return {replacement_character, 1};
    }
    if (s.size() - i < length) {
        return {replacement_character, 1};
    }
    for (std::size_t k = 1; k < length; ++k) {
        const unsigned char next = byte(i + k);
        if ((next & 0xC0) != 0x80) {
            return {replacement_character, 1};
        }
        cp = (cp << 6) | (next & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return {replacement_character, 1};
    }
    return {cp, length};
}

// Python's len(): code points. Counting the bytes that do not continue a sequence gives that
// for valid UTF-8 without decoding.
std::size_t python_len(std::string_view s) {
    return static_cast<std::size_t>(std::count_if(
        s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

void append_u_escape(std::string& out, char32_t unit) {
    static constexpr std::string_view hex = "0123456789abcdef";
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) {
        out += hex[(unit >> shift) & 0xFu];
    }
}

// json.dumps with ensure_ascii=True: only 0x20..0x7e pass through; DEL is escaped too.
void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        const decoded_char d = decode_utf8(s, i);
        i += d.length;
        switch (d.code_point) {
            case U'"':
                out += "\\\"";
                continue;
            case U'\\':
                out += "\\\\";
                continue;
            case U'\b':
                out += "\\b";
                continue;
            case U'\f':
                out += "\\f";
                continue;
            case U'\n':
                out += "\\n";
                continue;
            case U'\r':
                out += "\\r";
                continue;
            case U'\t':
                out += "\\t";
                continue;
            default:
                break;
        }
        if (d.code_point >= 0x20 && d.code_point <= 0x7E) {
            out += static_cast<char>(d.code_point);
        } else if (d.code_point < 0x10000) {
            append_u_escape(out, d.code_point);
        } else {
            const char32_t v = d.code_point - 0x10000;
            append_u_escape(out, 0xD800 + (v >> 10));
            append_u_escape(out, 0xDC00 + (v & 0x3FFu));
        }
    }
    out += '"';
}

template <typename Integer>
void append_integer(std::string& out, Integer n) {
    std::array<char, 24> buf{};
    const auto result = std::to_chars(buf.data(), buf.data() + buf.size(), n);
    out.append(buf.data(), result.ptr);
}

// Python's sort_keys compares str by code point, which for UTF-8 is plain byte order.
std::vector<const json::key_value_pair*> sorted_members(const json::object& o) {
    std::vector<const json::key_value_pair*> members;
    members.reserve(o.size());
    for (const auto& kv : o) {
        members.push_back(&kv);
    }
    std::stable_sort(members.begin(), members.end(), [](const auto* a, const auto* b) {
        return std::string_view(a->key()) < std::string_view(b->key());
    });
    return members;
}

void append_scalar(std::string& out, const json::value& v) {
    switch (v.kind()) {
        case json::kind::null:
            out += "null";
            break;
        case json::kind::bool_:
            out += v.get_bool() ? "true" : "false";
            break;
        case json::kind::int64:
            append_integer(out, v.get_int64());
            break;
        case json::kind::uint64:
            append_integer(out, v.get_uint64());
            break;
        case json::kind::double_:
            out += python_float_repr(v.get_double());
            break;
        case json::kind::string:
            append_json_string(out, v.get_string());
            break;
        case json::kind::array:
        case json::kind::object:
            break;
    }
}

// json.dumps without indent: separators ", " and ": ".
void append_compact(std::string& out, const json::value& v) {
    if (v.is_array()) {
        out += '[';
        bool first = true;
        for (const auto& e : v.get_array()) {
            if (!first) {
                out += ", ";
            }
            first = false;
            append_compact(out, e);
        }
        out += ']';
    } else if (v.is_object()) {
        out += '{';
        bool first = true;
        for (const auto* kv : sorted_members(v.get_object())) {
            if (!first) {
                out += ", ";
            }
            first = false;
            append_json_string(out, kv->key());
            out += ": ";
            append_compact(out, kv->value());
        }
        out += '}';
    } else {
        append_scalar(out, v);
    }
}

void append_newline_indent(std::string& out, std::size_t depth) {
    out += '\n';
    out.append(depth * 4, ' ');
}

// json.dumps with indent: the item separator loses its space (Python >= 3.4), and an empty
// container stays on one line.
void append_indented(std::string& out, const json::value& v, std::size_t depth) {
    if (v.is_array()) {
        const auto& a = v.get_array();
        if (a.empty()) {
            out += "[]";
            return;
        }
        out += '[';
        bool first = true;
        for (const auto& e : a) {
            if (!first) {
                out += ',';
            }
            first = false;
            append_newline_indent(out, depth + 1);
            append_indented(out, e, depth + 1);
        }
        append_newline_indent(out, depth);
        out += ']';
    } else if (v.is_object()) {
        const auto& o = v.get_object();
        if (o.empty()) {
            out += "{}";
            return;
        }
        out += '{';
        bool first = true;
        for (const auto* kv : sorted_members(o)) {
            if (!first) {
                out += ',';
            }
            first = false;
            append_newline_indent(out, depth + 1);
            append_json_string(out, kv->key());
            out += ": ";
            append_indented(out, kv->value(), depth + 1);
        }
        append_newline_indent(out, depth);
        out += '}';
    } else {
        append_scalar(out, v);
    }
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
    for (std::size_t pos = s.find(from); pos != std::string::npos;
         pos = s.find(from, pos + to.size())) {
        s.replace(pos, from.size(), to);
    }
    return s;
}

std::string format_string(std::string_view key, std::string_view value) {
    std::string text(value);
    if (key.ends_with("_time") && text.ends_with('Z')) {
        if (const auto dot = text.find('.'); dot != std::string::npos) {
            text.resize(dot);
            text += 'Z';
        }
    }
    std::string encoded;
    append_json_string(encoded, text);
    const std::string quoted = '"' + text + '"';
    // avn compares the encoding with the quoted text, and again after turning the escapes of
    // the pound and euro signs back into the characters; it then prints the raw text. The
    // replacement is textual, so "\\u00a3" typed by a user does not count as a pound sign.
    if (encoded == quoted ||
        replace_all(replace_all(encoded, "\\u00a3", "\u00a3"), "\\u20ac", "\u20ac") == quoted) {
        return text;
    }
    return encoded;
}

std::string ascii_upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'a' && c <= 'z') {
            c = static_cast<char>(c - 'a' + 'A');
        }
    }
    return out;
}

void append_padded(std::string& out, std::string_view text, std::size_t width) {
    out += text;
    const std::size_t length = python_len(text);
    if (length < width) {
        out.append(width - length, ' ');
    }
}

// str.strip() removes Unicode whitespace. A cell holds only printable ASCII and the pound and
// euro signs, so the spaces of padding are all that can reach either end; the ASCII set is
// enough.
std::string_view strip(std::string_view s) {
    constexpr std::string_view whitespace = " \t\n\v\f\r\x1c\x1d\x1e\x1f";
    const std::size_t begin = s.find_first_not_of(whitespace);
    if (begin == std::string_view::npos) {
        return {};
    }
    const std::size_t end = s.find_last_not_of(whitespace);
    return s.substr(begin, end - begin + 1);
}

using column_set = std::set<std::string, std::less<>>;
using row_cells = std::map<std::string, std::string, std::less<>>;
using width_map = std::map<std::string, std::size_t, std::less<>>;

// avn flattens every member into dotted paths. Only top-level objects are offered as cells of
// their own; below that only non-object leaves are, so a column naming a nested object stays
// empty. Widths grow with every value offered, even one a later duplicate path replaces.
void collect_cells(const std::string& path, const json::value& v, bool top_level,
                   const column_set& columns, row_cells& row, width_map& widths) {
    if ((top_level || !v.is_object()) && columns.contains(path)) {
        std::string cell = format_cell(path, v);
        auto [it, inserted] = widths.try_emplace(path, 1);
        it->second = std::max({it->second, python_len(path), python_len(cell)});
        row.insert_or_assign(path, std::move(cell));
    }
    if (!v.is_object()) {
        return;
    }
    for (const auto& kv : v.get_object()) {
        const std::string child =
            path.empty() ? std::string(kv.key()) : path + "." + std::string(kv.key());
        collect_cells(child, kv.value(), false, columns, row, widths);
    }
}

}  // namespace

std::string python_float_repr(double d) {
    if (std::isnan(d)) {
        return "NaN";
    }
    if (std::isinf(d)) {
        return d > 0 ? "Infinity" : "-Infinity";
    }
    // to_chars without a precision gives the shortest digits that round-trip, like Python's
    // repr; only the layout around them differs, so it is rebuilt from the scientific form.
    std::array<char, 40> buf{};
    const auto result =
        std::to_chars(buf.data(), buf.data() + buf.size(), d, std::chars_format::scientific);
    const std::string_view sci(buf.data(), static_cast<std::size_t>(result.ptr - buf.data()));

    const bool negative = sci.front() == '-';
    const std::size_t e_pos = sci.find('e');
    std::string digits;
    for (const char c : sci.substr(negative ? 1 : 0, e_pos - (negative ? 1 : 0))) {
        if (c != '.') {
            digits += c;
        }
    }
    while (digits.size() > 1 && digits.back() == '0') {
        digits.pop_back();
    }
    int exponent = 0;
    std::string_view exp_text = sci.substr(e_pos + 1);
    if (exp_text.front() == '+') {
        exp_text.remove_prefix(1);
    }
    std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);

    std::string out = negative ? "-" : "";
    if (exponent >= -4 && exponent < 16) {
        if (exponent < 0) {
            out += "0.";
            out.append(static_cast<std::size_t>(-exponent - 1), '0');
            out += digits;
        } else {
            const auto int_digits = static_cast<std::size_t>(exponent) + 1;
            if (digits.size() <= int_digits) {
                out += digits;
                out.append(int_digits - digits.size(), '0');
                out += ".0";
            } else {
                out += digits.substr(0, int_digits);
                out += '.';
                out += digits.substr(int_digits);
            }
        }
        return out;
    }
    out += digits.front();
    if (digits.size() > 1) {
        out += '.';
        out += digits.substr(1);
    }
    out += exponent < 0 ? "e-" : "e+";
    const int magnitude = exponent < 0 ? -exponent : exponent;
    if (magnitude < 10) {
        out += '0';
    }
    append_integer(out, magnitude);
    return out;
}

std::string to_avn_json(const boost::json::value& v) {
    std::string out;
    append_indented(out, v, 0);
    out += '\n';
    return out;
}

std::string format_cell(std::string_view key, const boost::json::value& v) {
    if (v.is_array()) {
        std::string out;
        bool first = true;
        for (const auto& e : v.get_array()) {
            if (!first) {
                out += ", ";
            }
            first = false;
            out += format_cell({}, e);
        }
        return out;
    }
    if (v.is_string()) {
        return format_string(key, v.get_string());
    }
    std::string out;
    append_compact(out, v);
    return out;
}

std::string render_table(const boost::json::array& rows, const std::vector<std::string>& columns) {
    std::string out;
    if (rows.empty()) {
        return out;
    }
    if (!rows.front().is_object()) {
        for (const auto& item : rows) {
            out += format_cell({}, item);
            out += '\n';
        }
        return out;
    }

    const column_set wanted(columns.begin(), columns.end());
    width_map widths;
    std::vector<row_cells> cells(rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        if (!rows[i].is_object()) {
            continue;
        }
        for (const auto& kv : rows[i].get_object()) {
            collect_cells(std::string(kv.key()), kv.value(), true, wanted, cells[i], widths);
        }
    }
    const auto width_of = [&](const std::string& column) {
        const auto it = widths.find(column);
        return it != widths.end() ? it->second : std::max<std::size_t>(1, python_len(column));
    };

    for (std::size_t c = 0; c < columns.size(); ++c) {
        if (c > 0) {
            out += "  ";
        }
        append_padded(out, ascii_upper(columns[c]), width_of(columns[c]));
    }
    out += '\n';
    for (std::size_t c = 0; c < columns.size(); ++c) {
        if (c > 0) {
            out += "  ";
        }
        out.append(width_of(columns[c]), '=');
    }
    out += '\n';
    for (const auto& row : cells) {
        std::string line;
        for (std::size_t c = 0; c < columns.size(); ++c) {
            if (c > 0) {
                line += "  ";
            }
            const auto it = row.find(columns[c]);
            append_padded(line, it != row.end() ? std::string_view(it->second) : std::string_view(),
                          width_of(columns[c]));
        }
        out += strip(line);
        out += '\n';
    }
    return out;
}

}  // namespace avn::helper
