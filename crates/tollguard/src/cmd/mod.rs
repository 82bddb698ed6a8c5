//! One module per command; each has its clap `Args` and a `run` returning the exit code.

pub mod audit;
pub mod calls;
pub mod ctl;
pub mod firewall;
pub mod run;
pub mod scan;
