//! The TLS ClientHello, read without terminating TLS (issue 13: SNI routing).
