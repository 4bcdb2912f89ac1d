//! Wire formats read and written on the data path, as pure functions over
//! bytes (public so that the fuzz targets in `tests/fuzz/` reach them): the
//! PROXY protocol header (v1 and v2) and the TLS ClientHello.

pub mod client_hello;
pub mod proxy_protocol;
