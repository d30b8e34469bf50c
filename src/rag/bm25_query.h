// Free text -> an FTS5 MATCH expression that means "any of these words": every whitespace-separated
// term with a letter or digit in it becomes a quoted string ("" for a quote inside), joined by OR.
// Quoting keeps FTS5 syntax in user text (AND, NEAR, *, -, ^, column:) from being interpreted.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace tunekit::rag {

// "what's \"NEAR\" x*" -> "\"what's\" OR \"\"\"NEAR\"\"\" OR \"x*\"". Empty when no term has a letter or
// digit (the caller returns no hits instead of asking FTS5).
std::string fts5_or_query(std::string_view text);
// The same from terms already split (query_terms).
std::string fts5_or_query(const std::vector<std::string>& terms);
// The whitespace-separated terms of text that have a letter or digit.
std::vector<std::string> query_terms(std::string_view text);
// How a term would look in the FTS5 vocabulary if porter leaves it alone: ASCII letters lower-cased,
// ASCII punctuation trimmed from both ends ("Glucose?" -> "glucose"). For document-frequency
// look-ups; a term porter changes is simply not found.
std::string vocabulary_form(std::string_view term);

}  // namespace tunekit::rag
