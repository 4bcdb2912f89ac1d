//! ACLs and conditions (issue 13): fetches, converters, patterns, and the
//! conditions `if` / `unless` that rules use.
