// What `avn user ...` prints on stdout, byte for byte: its tables and its `--json` output.
// Pure functions over Boost.JSON values; no I/O. Rules: docs aiven-api.md §3.
//
// Values are taken as boost::json::parse produces them (valid UTF-8, nesting bounded by the
// parser's depth limit). Where a value cannot hold what Python would have parsed, the output
// follows what the value holds: an integer beyond uint64 arrives as a double and prints as one,
// and a double that Boost.JSON 1.81's parser rounded differently from Python (it can miss by
// one unit in the last place on long decimals) prints as the double it holds.
// Strings holding invalid UTF-8 (only possible when built by hand) encode each bad byte as
// U+FFFD.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace avn::helper {

/// The text Python's json.dumps prints for the float `d`, which is repr(d) for finite values:
/// the shortest digits that read back as `d`; fixed notation with at least one fractional digit
/// ("3600.0", "0.0001", "-0.0") while the decimal exponent is in [-4, 16); otherwise exponent
/// form with a sign and at least two exponent digits ("1e+16", "1.5e-05"). Non-finite values
/// print as json.dumps does: "Infinity", "-Infinity", "NaN" (repr() would say inf/nan).
std::string python_float_repr(double d);

/// avn's `--json` output: json.dumps(v, indent=4, sort_keys=True) followed by "\n".
/// Keys are sorted by code point; separators are "," at line ends and ": "; an empty array or
/// object prints as "[]" / "{}"; strings are escaped as with ensure_ascii: `"` `\` and
/// \b \f \n \r \t by name, other characters outside 0x20..0x7e as lower-case \uXXXX, with a
/// surrogate pair for characters beyond the BMP.
std::string to_avn_json(const boost::json::value& v);

/// One table cell as avn prints `v` under column `key`:
/// - null, booleans and numbers as json.dumps prints them (`null`, `true`, `3600`, `3600.0`,
///   doubles through python_float_repr);
/// - an array as its elements' cells (formatted with no key) joined by ", "; nested arrays
///   flatten into the same list, and an empty array prints as "";
/// - an object as one-line JSON with sorted keys, separators ", " and ": ", ensure_ascii;
/// - a string as is when its JSON encoding would only add the quotes, else that JSON encoding
///   with its quotes. avn also counts "£" (U+00A3) and "€" (U+20AC) as needing no encoding,
///   so "£5" prints as is while "é" prints as "\u00e9" with the quotes;
/// - when `key` ends in "_time" and the string ends in 'Z' and holds a '.', everything from
///   the first '.' is replaced by "Z" before the rule above ("...T10:00:00.123456Z" loses the
///   fraction). Keys without that suffix, such as token_validity_begin, are left alone.
std::string format_cell(std::string_view key, const boost::json::value& v);

/// avn's table of `rows` under `columns`; every line ends in "\n".
/// - Empty `rows`: "" (avn prints nothing).
/// - First row not an object: one line per element, its cell with no key, and no header.
/// - Otherwise a header line of the column names upper-cased (ASCII letters only, where
///   Python's str.upper() changes other letters too; avn's columns are ASCII) and left-justified to
///   the column's width, joined by two spaces, its trailing spaces kept; a line of '=' to each
///   width joined by two spaces; then one line per row: the cells left-justified and joined by two
///   spaces, trimmed at both ends.
/// - A column's width is the largest of 1, the column name's length and its widest cell, all
///   in code points as Python's len() counts them.
/// - A cell comes from the row's member of that name or, for a dotted name "a.b", from member
///   "b" of object member "a" (any depth), as avn flattens nested objects. A top-level object
///   named by a column prints as JSON; a nested one does not (avn emits only its leaves). When
///   both "a.b" and a nested a→b exist, the later one in member order wins the cell while both
///   count for the width, as in avn.
/// - A row without a column's value shows an empty cell. Where avn would fail instead, the
///   table still prints: a column no row has is as wide as its name, and a row that is not an
///   object shows only empty cells.
std::string render_table(const boost::json::array& rows, const std::vector<std::string>& columns);

}  // namespace avn::helper
