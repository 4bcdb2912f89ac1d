//! The PROXY protocol header, v1 and v2 (issue 13).
