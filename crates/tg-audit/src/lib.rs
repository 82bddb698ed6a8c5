//! The auditor: an Asterisk/FreePBX configuration tree and the host in, findings with file,
//! line, why and fix out.
