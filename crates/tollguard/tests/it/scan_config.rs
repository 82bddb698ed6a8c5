//! The shipped configuration files parse: `tollguard.example.toml` (every key, commented) and the
//! examples' own configs.

use std::path::Path;

use tg_config::Config;

fn repo_file(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

#[test]
fn example_config_parses_and_means_what_it_says() {
    let config =
        Config::load(&repo_file("tollguard.example.toml")).unwrap_or_else(|e| panic!("{e}"));
    let jails = config.jails();
    let jail = |name: &str| {
        jails
            .iter()
            .find(|j| j.name == name)
            .unwrap_or_else(|| panic!("jail {name} missing"))
    };
    assert_eq!(jail("sip").max_retry, 5);
    assert_eq!(jail("ami").max_retry, 3);
    assert!(!jail("ftp").enabled);
    assert_eq!(jail("voip-recidive").ban_time, 7 * 86_400);
    assert_eq!(jail("voip-recidive").services.len(), 3);
    assert_eq!(config.detector.len(), 2);
    assert!(!config.trusted.entries().is_empty());
}

#[test]
fn bundled_example_config_parses() {
    let config =
        Config::load(&repo_file("examples/attacked-pbx.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.trusted.entries().len(), 1);
}
