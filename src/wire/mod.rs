//! Wire formats read and written on the data path, as pure functions over
//! bytes (public so that the fuzz targets in `tests/fuzz/` reach them): the
//! PROXY protocol header (v1 and v2), the TLS ClientHello and the RDP cookie.

pub mod client_hello;
pub mod proxy_protocol;
pub mod rdp;
