//! HAProxy's dynamic server limit (`minconn` with the backend's
//! `fullconn`): a server takes `minconn` connections while its backend is
//! quiet and grows towards `maxconn` as the backend's sessions approach
//! `fullconn`, so that a busy backend queues rather than overload servers
//! early.

/// The limit of a server with `minconn` and `maxconn` in a backend of
/// `beconn` sessions (queued ones included) and `fullconn`, as HAProxy's
/// `srv_dynamic_maxconn`: maxconn once the backend is full or the limit is
/// static (minconn == maxconn), else `max(minconn, maxconn * beconn /
/// fullconn)`. 0 is no limit.
pub fn dynamic_maxconn(minconn: u32, maxconn: u32, beconn: usize, fullconn: u32) -> u32 {
    let beconn = u64::try_from(beconn).unwrap_or(u64::MAX);
    if minconn >= maxconn || beconn >= u64::from(fullconn) {
        return maxconn;
    }
    let grown = u64::from(maxconn) * beconn / u64::from(fullconn.max(1));
    minconn.max(u32::try_from(grown).unwrap_or(maxconn))
}

#[cfg(test)]
mod tests {
    use super::dynamic_maxconn;

    #[test]
    fn the_limit_grows_from_minconn_to_maxconn_with_the_backend_load() {
        // minconn 10, maxconn 100, fullconn 1000.
        let at = |beconn| dynamic_maxconn(10, 100, beconn, 1000);
        assert_eq!(at(0), 10);
        assert_eq!(at(99), 10, "9.9 is under minconn");
        assert_eq!(at(200), 20);
        assert_eq!(at(999), 99);
        assert_eq!(at(1000), 100, "a full backend gives maxconn");
        assert_eq!(at(5000), 100);
    }

    #[test]
    fn a_static_limit_is_maxconn_whatever_the_load() {
        assert_eq!(dynamic_maxconn(50, 50, 0, 1000), 50);
        assert_eq!(dynamic_maxconn(0, 0, 10, 1), 0, "no limit stays none");
    }
}
