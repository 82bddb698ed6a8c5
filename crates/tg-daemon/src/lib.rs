//! The daemon (`tollguard run`): live sources → detectors → jails → enforcers, the store and
//! the control socket.
