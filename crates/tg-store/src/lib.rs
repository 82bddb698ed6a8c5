//! The state store: bans, offender history, file positions, behind one small trait so a
//! shared PostgreSQL store can follow.
