//! `kill -9` at an arbitrary moment loses no committed ban: a writer process commits one ban per
//! transaction and reports each after its commit; it is killed mid-stream, and every ban it
//! reported is in the reopened store.

use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::process::{Command, Stdio};

use tg_store::{SqliteStore, Store};

fn store_cli() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let cli = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target dir")
        .join("examples")
        .join("store_cli");
    assert!(
        cli.is_file(),
        "{} missing: run `cargo test -p tg-store` (it builds examples)",
        cli.display()
    );
    cli
}

#[test]
fn kill_9_mid_stream_loses_no_committed_ban() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    for kill_after in [1usize, 37, 150] {
        let mut child = Command::new(store_cli())
            .args(["record-loop", db.to_str().unwrap(), "100000"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut reported: Vec<IpAddr> = Vec::new();
        for line in lines.by_ref().take(kill_after) {
            reported.push(line.unwrap().parse().unwrap());
        }
        child.kill().unwrap(); // SIGKILL
                               // Whatever it managed to report before dying was committed too.
        reported.extend(
            lines
                .map_while(Result::ok)
                .filter_map(|l| l.parse::<IpAddr>().ok()),
        );
        let status = child.wait().unwrap();
        assert!(!status.success(), "the writer was killed, not finished");

        let mut store = SqliteStore::open(&db).unwrap();
        let stored: std::collections::HashSet<IpAddr> = store
            .active_bans(0)
            .unwrap()
            .into_iter()
            .map(|b| b.ip.addr())
            .collect();
        let lost: Vec<&IpAddr> = reported.iter().filter(|ip| !stored.contains(ip)).collect();
        assert!(
            reported.len() >= kill_after && lost.is_empty(),
            "lost {lost:?} of {}",
            reported.len()
        );
    }
}
