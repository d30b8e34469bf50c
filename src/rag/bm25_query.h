// Free text -> an FTS5 MATCH expression that means "any of these words": every whitespace-separated
// term with a letter or digit in it becomes a quoted string ("" for a quote inside), joined by OR.
// Quoting keeps FTS5 syntax in user text (AND, NEAR, *, -, ^, column:) from being interpreted.
#pragma once
#include <string>
#include <string_view>

namespace tunekit::rag {

// "what's \"NEAR\" x*" -> "\"what's\" OR \"\"\"NEAR\"\"\" OR \"x*\"". Empty when no term has a letter or
// digit (the caller returns no hits instead of asking FTS5).
std::string fts5_or_query(std::string_view text);

}  // namespace tunekit::rag
