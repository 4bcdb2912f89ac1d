//! Stage one of configuration: conf file text -> raw sections with line numbers.
// STUB: helper A replaces this file.
