//! The ban sets and their drop chain (owned by the ban enforcer, tg-enforce).
